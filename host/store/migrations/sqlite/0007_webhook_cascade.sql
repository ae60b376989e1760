-- PostgreSQL's migration 0007 replaces the foreign keys of deliveries and attempts with
-- explicit locks and a delete trigger (they cost a row lock per row there). SQLite checks a
-- foreign key with one index lookup and has a single writer, so it keeps them; this
-- migration only keeps both backends' version numbers in step.
SELECT 1;
