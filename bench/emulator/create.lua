-- wrk script: single-record create, POST /services/data/v66.0/sobjects/Account.
-- The Authorization header comes from run.sh (-H).
wrk.method = "POST"
wrk.path = "/services/data/v66.0/sobjects/Account"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Name": "Bench Account", "Industry": "Technology", "Phone": "+1 555 0100"}'
