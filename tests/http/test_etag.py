"""ETag and If-Match: the version as a strong tag, compare-and-set on every
write that takes If-Match (412 on mismatch), and races: two writers with
one ETag, exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from checks import JSON_HEADERS, assert_etag, body_json, etag, problem
from conftest import CLIENT_TIMEOUT, Api, describe, session_path

ROUNDS = 25


def test_if_match_forms(api: Api) -> None:
    created = api.create()
    path = session_path(created["id"])
    tag = etag(api.get(path))
    assert tag == '"1"'
    # Quoted, bare digits and * all accepted.
    response = api.patch(path, json={"name": "a"}, headers={"If-Match": tag})
    assert_etag(response, 2)
    response = api.patch(path, json={"name": "b"}, headers={"If-Match": "2"})
    assert_etag(response, 3)
    response = api.patch(path, json={"name": "c"}, headers={"If-Match": "*"})
    assert_etag(response, 4)


@pytest.mark.parametrize("value", ['W/"1"', '"one"', "1,2", '"1', "-1", ""], ids=repr)
def test_malformed_if_match_is_400(api: Api, value: str) -> None:
    created = api.create()
    response = api.patch(session_path(created["id"]), json={"name": "x"}, headers={"If-Match": value})
    problem(response, 400, "invalid_input")
    assert api.redis.hget(f"session:{created['id']}:meta", "version") == "1"


def test_stale_if_match_is_412_on_every_write(api: Api) -> None:
    created = api.create()
    path = session_path(created["id"])
    api.post(session_path(created["id"], "items"), json=["a"])  # now at version 2
    stale = {"If-Match": '"1"'}
    problem(api.patch(path, json={"name": "x"}, headers=stale), 412, "precondition_failed")
    problem(api.delete(path, headers=stale), 412, "precondition_failed")
    problem(api.post(session_path(created["id"], "items"), json=["b"], headers=stale), 412, "precondition_failed")
    problem(api.delete(session_path(created["id"], "items"), headers=stale), 412, "precondition_failed")
    problem(api.post(session_path(created["id"], "items", "pop"), headers=stale), 412, "precondition_failed")
    # Nothing was written.
    assert api.redis.hget(f"session:{created['id']}:meta", "version") == "2"
    assert api.redis.lrange(f"session:{created['id']}:items", 0, -1) == ['"a"']


def test_matching_if_match_writes(api: Api) -> None:
    created = api.create()
    items = session_path(created["id"], "items")
    response = api.post(items, json=["a", "b"], headers={"If-Match": '"1"'})
    assert_etag(response, 2)
    response = api.post(session_path(created["id"], "items", "pop"), headers={"If-Match": '"2"'})
    assert body_json(response, 200)["item"] == "b"
    assert_etag(response, 3)
    response = api.delete(items, headers={"If-Match": '"3"'})
    assert_etag(response, 4)
    response = api.delete(session_path(created["id"]), headers={"If-Match": '"4"'})
    assert response.status_code == 204, describe(response)


def test_if_match_on_a_missing_session_is_404(api: Api) -> None:
    problem(api.patch("/sessions/nope", json={"name": "x"}, headers={"If-Match": '"1"'}), 404, "not_found")
    problem(api.delete("/sessions/nope", headers={"If-Match": '"1"'}), 404, "not_found")


def test_etag_of_reads_follows_writes(api: Api) -> None:
    created = api.create()
    items = session_path(created["id"], "items")
    assert_etag(api.get(items), 1)
    api.post(items, json=["a"])
    assert_etag(api.get(items), 2)
    assert_etag(api.get(session_path(created["id"], "items", "count")), 2)
    assert_etag(api.get(session_path(created["id"])), 2)


def race(api: Api, write: Callable[[httpx.Client, str, str], httpx.Response], rounds: int = ROUNDS) -> None:
    """`rounds` times: read the ETag, then two threads write with it at
    once (a barrier lines them up); exactly one must get 2xx and the other
    412 precondition_failed."""
    created = api.create()
    session_id = created["id"]
    # One item per round, so that every round's pop removes one.
    api.post(session_path(session_id, "items"), json=["seed"] * rounds)
    clients = [api.client() for _ in range(2)]
    try:
        for number in range(rounds):
            tag = etag(api.get(session_path(session_id)))
            barrier = threading.Barrier(2)
            results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * 2

            def run(
                index: int, tag: str = tag, barrier: threading.Barrier = barrier, results: list[Any] = results
            ) -> None:
                try:
                    barrier.wait(timeout=CLIENT_TIMEOUT)
                    results[index] = write(clients[index], session_id, tag)
                except BaseException as error:  # reported below
                    results[index] = error

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=2 * CLIENT_TIMEOUT)
            responses = []
            for result in results:
                if isinstance(result, BaseException):
                    raise AssertionError(f"round {number}: a writer failed: {result!r}")
                responses.append(result)
            statuses = sorted(r.status_code for r in responses)
            assert statuses[0] < 300 and statuses[1] == 412, (
                f"round {number}: expected one success and one 412, got {statuses}:\n"
                + "\n".join(describe(r) for r in responses)
            )
            loser = next(r for r in responses if r.status_code == 412)
            problem(loser, 412, "precondition_failed")
            winner = next(r for r in responses if r.status_code < 300)
            expected = int(tag.strip('"')) + 1
            assert api.redis.hget(f"session:{session_id}:meta", "version") == str(expected)
            if winner.status_code != 204:
                assert_etag(winner, expected)
    finally:
        for client in clients:
            client.close()


def test_race_update(api: Api) -> None:
    race(api, lambda c, sid, tag: c.patch(session_path(sid), json={"name": tag}, headers={"If-Match": tag}))


def test_race_append(api: Api) -> None:
    race(
        api,
        lambda c, sid, tag: c.post(
            session_path(sid, "items"), content=b'["x"]', headers={**JSON_HEADERS, "If-Match": tag}
        ),
    )


def test_race_pop(api: Api) -> None:
    race(api, lambda c, sid, tag: c.post(session_path(sid, "items", "pop"), headers={"If-Match": tag}))


def test_race_delete(api: Api) -> None:
    """Two deletes with one ETag: one 204, one 412 (or 404 once it is gone)."""
    for _ in range(ROUNDS):
        created = api.create()
        path = session_path(created["id"])
        results: list[httpx.Response] = []
        barrier = threading.Barrier(2)

        def run(path: str = path, barrier: threading.Barrier = barrier, results: list[Any] = results) -> None:
            with api.client() as client:
                barrier.wait(timeout=CLIENT_TIMEOUT)
                results.append(client.delete(path, headers={"If-Match": '"1"'}))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=2 * CLIENT_TIMEOUT)
        statuses = sorted(r.status_code for r in results)
        assert len(statuses) == 2 and statuses[0] == 204 and statuses[1] in (404, 412), [describe(r) for r in results]
