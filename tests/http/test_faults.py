"""Faults: a corrupt stored session (500 data_corrupt), Redis stopped
mid-traffic (503/504 within the client's timeout, never a hang), Redis
paused (504), and recovery without restarting the server."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
from checks import body_json, problem
from conftest import Api, describe, session_path

# A request against a stopped Redis must answer within this; the
# deployments run with SESSIONS_REDIS_TIMEOUT=2s.
FAULT_TIMEOUT = 15.0
# Recovery after Redis comes back: generous, only bounds a broken build.
RECOVERY_DEADLINE = 30.0
STORAGE_ERRORS = {503: "unavailable", 504: "timeout"}


def test_corrupt_session_is_500_data_corrupt(api: Api) -> None:
    created = api.create()
    session_id = created["id"]
    api.redis.hset(f"session:{session_id}:data", "temperature", "warm")
    document = problem(api.get(session_path(session_id)), 500, "data_corrupt")
    corruption = document.get("corruption")
    assert isinstance(corruption, dict), document
    assert corruption["session_id"] == session_id and corruption["field"] == "temperature", corruption
    assert corruption["key"] == f"session:{session_id}:data", corruption
    assert document["detail"] == corruption["message"], document
    # A list reports it instead of failing.
    page = body_json(api.get("/sessions"), 200)
    assert [c["session_id"] for c in page["corrupt"]] == [session_id], page


def test_corrupt_meta_is_500_on_writes_too(api: Api) -> None:
    created = api.create()
    session_id = created["id"]
    api.redis.hset(f"session:{session_id}:meta", "created_at", "yesterday")
    problem(api.get(session_path(session_id)), 500, "data_corrupt")
    problem(api.patch(session_path(session_id), json={"name": "x"}), 500, "data_corrupt")


def storage_error(response: httpx.Response) -> None:
    assert response.status_code in STORAGE_ERRORS, describe(response)
    problem(response, response.status_code, STORAGE_ERRORS[response.status_code])


def wait_until_served(api: Api, session_id: str) -> None:
    """Polls GET until it answers 200: each failure on the way must be a
    storage error, never a hang or another status."""
    deadline = time.monotonic() + RECOVERY_DEADLINE
    with api.client(FAULT_TIMEOUT) as client:
        while True:
            response = client.get(session_path(session_id))
            if response.status_code == 200:
                return
            storage_error(response)
            assert time.monotonic() < deadline, f"not served again within {RECOVERY_DEADLINE} s: {describe(response)}"
            time.sleep(0.1)  # between polls of a recovery


def test_redis_stopped_mid_traffic_then_restarted(api: Api) -> None:
    created = api.create()
    session_id = created["id"]
    statuses: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    under_way = threading.Event()

    def traffic() -> None:
        with api.client(FAULT_TIMEOUT) as client:
            while not stop.is_set():
                try:
                    response = client.patch(session_path(session_id), json={"name": "busy"})
                except httpx.TransportError as error:
                    failures.append(f"transport error (a hang or a dropped connection): {error!r}")
                    return
                statuses.append(response.status_code)
                under_way.set()
                if response.status_code != 200:
                    try:
                        storage_error(response)
                    except AssertionError as error:
                        failures.append(str(error))
                        return

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        # Until the first answer came back (or the worker gave up).
        while not under_way.wait(0.5) and worker.is_alive():
            pass
        api.deployment.redis.stop()
        # The server keeps answering, with storage errors.
        with api.client(FAULT_TIMEOUT) as client:
            for _ in range(3):
                storage_error(client.get(session_path(session_id)))
                storage_error(client.post("/sessions", json={"model_id": "m"}))
            problem(client.get("/readyz"), 503, "unavailable")
            assert client.get("/healthz").status_code == 200
        # The traffic ends before Redis comes back empty (its session gone).
        stop.set()
        worker.join(timeout=2 * FAULT_TIMEOUT)
        api.deployment.redis.start()  # same port
        body_json(api.post("/sessions", json={"id": "after", "model_id": "m"}), 201)
    finally:
        stop.set()
        worker.join(timeout=2 * FAULT_TIMEOUT)
        if api.deployment.redis.process is None:
            api.deployment.redis.start()
    assert not failures, failures
    assert 200 in statuses and any(s in STORAGE_ERRORS for s in statuses), statuses
    wait_until_served(api, "after")
    assert api.deployment.alive(), api.deployment.log_tail()


def test_redis_paused_is_a_timeout_then_recovers(api: Api) -> None:
    created = api.create()
    process = api.deployment.redis.process
    assert process is not None
    # SIGSTOP: connections stay open and nothing answers (a hung Redis).
    os.kill(process.pid, signal.SIGSTOP)
    try:
        with api.client(FAULT_TIMEOUT) as client:
            response = client.get(session_path(created["id"]))
        storage_error(response)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    wait_until_served(api, created["id"])
