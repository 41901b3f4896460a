-- wrk script: authenticated GET of the URL given to wrk.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
