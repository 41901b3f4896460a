-- wrk script: GET the path given in BENCH_PATH with the bearer token in BENCH_TOKEN.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
