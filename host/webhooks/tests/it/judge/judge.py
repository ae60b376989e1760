"""Judge for Gatehouse's Standard Webhooks signatures, using the reference `standardwebhooks`
library. Reads cases as JSON (argv[1]) and prints one JSON result per case:

- {"kind": "verify", "secret", "body", "headers"} -> {"ok": bool, "error": str|null}
  via Webhook(secret).verify(body, headers) (checks the timestamp against the real clock).
- {"kind": "sign", "secret", "id", "timestamp", "body"} -> {"signature": str}
  via Webhook(secret).sign(...), so the Rust side can compare byte for byte.
"""

import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def run(case):
    hook = Webhook(case["secret"])
    if case["kind"] == "sign":
        when = datetime.fromtimestamp(case["timestamp"], tz=timezone.utc)
        return {"signature": hook.sign(case["id"], when, case["body"])}
    try:
        hook.verify(case["body"].encode("utf-8"), case["headers"], json_parse=False)
        return {"ok": True, "error": None}
    except WebhookVerificationError as e:
        return {"ok": False, "error": str(e)}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
