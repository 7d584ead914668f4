# The FastAPI floor of `make bench`: one no-op route per measured path, each
# returning the envelope the Go gateway answered for it (read from the file
# BENCH_FLOOR_BODIES names). What a request costs here is the framework's
# floor: uvicorn, routing, serialising the same envelope.
import json
import os

from fastapi import FastAPI

app = FastAPI()

with open(os.environ["BENCH_FLOOR_BODIES"], encoding="utf-8") as f:
    bodies = json.load(f)


def route(body):
    async def handler():
        return body

    return handler


for path, body in bodies.items():
    app.add_api_route(path, route(body), methods=["GET"])
