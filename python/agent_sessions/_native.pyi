"""The Rust host as a Python module (python/src/ in the repository).

Every repository operation is one call: `call(export, *args)` with the WIT
export's name (`"get-items"`) and its arguments (str, bool or int), blocking
with the GIL released, or `call_async` for an awaitable driven by the host's
tokio runtime. Documents cross as JSON text in the shared schema
(schema/sessions.schema.json); `agent_sessions.repository` turns them into
dataclasses. Errors are the exception classes of `agent_sessions.errors`.
"""

import os
from collections.abc import Awaitable

class NativeStore:
    def __init__(
        self,
        redis_url: str | None,
        *,
        prefix: str,
        ttl: int,
        grace: int,
        batch_size: int,
        memory_limit: int,
        time_limit: float,
        socket_timeout: float,
        connect_timeout: float,
        component: str | os.PathLike[str] | None = None,
        manual_clock: bool = False,
        shards: int | None = None,
        cluster: bool = False,
        wait_replicas: int | None = None,
        wait_timeout: float = 0.25,
    ) -> None: ...
    def call(self, export: str, /, *args: str | bool | int) -> str | bool | int: ...
    def call_async(self, export: str, /, *args: str | bool | int) -> Awaitable[str | bool | int]: ...
    def ping(self) -> float: ...
    def ping_async(self) -> Awaitable[float]: ...
    def advance_clock(self, seconds: float, /) -> None: ...
    @property
    def round_trips(self) -> int: ...
    @property
    def storage(self) -> str: ...
    def close(self) -> None: ...
