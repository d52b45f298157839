-- wrk script: a SOQL query answering one full page of 2,000 records (run.sh seeds exactly 2,000
-- Contacts with LastName 'Bench', so every answer is one page, done = true, no cursor kept).
wrk.method = "GET"
wrk.path = "/services/data/v66.0/query?q=SELECT+Id%2C+FirstName%2C+LastName%2C+Email%2C+Title+FROM+Contact+WHERE+LastName+%3D+%27Bench%27"
