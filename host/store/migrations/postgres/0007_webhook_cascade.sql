-- Deliveries and attempts keep no foreign keys on PostgreSQL: each checked row cost a trigger,
-- an index lookup and a row lock, and every result batch locked the one endpoint row from
-- several transactions at once (a multixact per row). The delivery benchmark recorded a batch
-- a sixth faster without them (docs/performance.md).
--
-- What the keys guaranteed still holds: every statement that writes deliveries or attempts
-- locks their endpoints FOR KEY SHARE first and writes only for endpoints it locked, so a
-- concurrent delete waits for it (or it sees the endpoint gone); deleting an endpoint, alone
-- or with its tenant, deletes its deliveries and attempts through the trigger below, as the
-- cascade did; the retention purge deletes a delivery's attempts with it.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;

CREATE FUNCTION webhook_endpoint_deleted() RETURNS trigger
LANGUAGE plpgsql
-- Resolve the tables in the schema the function was created in, whoever deletes.
SET search_path FROM CURRENT
AS $$
BEGIN
    DELETE FROM webhook_attempts WHERE endpoint_id = OLD.id;
    DELETE FROM webhook_deliveries WHERE endpoint_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_endpoint_deleted AFTER DELETE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION webhook_endpoint_deleted();
