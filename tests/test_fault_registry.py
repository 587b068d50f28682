"""The fault registry: replace, clear, and TTL expiry on an injected clock and on the real one."""

import time

from harness_common.faults.model import parse_fault
from harness_common.faults.registry import FaultRegistry


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_fault_is_active_until_its_ttl_and_gone_after():
    clock = FakeClock()
    registry = FaultRegistry(clock=clock, reaper=False)
    registry.set(parse_fault("latency", {"delay_ms": 100, "ttl_s": 10}))
    clock.now += 9.9
    assert registry.is_active("latency")
    clock.now += 0.1
    assert not registry.is_active("latency")
    assert registry.active() == []
    assert registry.expire_due() == ["latency"]


def test_setting_a_kind_again_replaces_it_and_restarts_its_ttl():
    clock = FakeClock()
    registry = FaultRegistry(clock=clock, reaper=False)
    registry.set(parse_fault("latency", {"delay_ms": 100, "ttl_s": 10}))
    clock.now += 8
    registry.set(parse_fault("latency", {"delay_ms": 200, "ttl_s": 10}))
    clock.now += 8
    (fault,) = registry.active()
    assert fault.spec.delay_ms == 200


def test_clear_one_kind_keeps_the_others_and_clear_all_empties():
    registry = FaultRegistry(clock=FakeClock(), reaper=False)
    registry.set(parse_fault("latency", {"delay_ms": 1}))
    registry.set(parse_fault("error", {}))
    assert registry.clear("latency") == ["latency"]
    assert registry.clear("latency") == []
    assert [f.kind for f in registry.active()] == ["error"]
    assert registry.clear() == ["error"]
    assert registry.active() == []


def test_the_json_view_shows_expiry_in_utc_and_seconds_left():
    clock = FakeClock(0.0)
    registry = FaultRegistry(clock=clock, reaper=False)
    fault = registry.set(parse_fault("error", {"status": 503, "ttl_s": 60}))
    view = fault.to_json(now=clock.now + 15)
    assert view["expires_at"] == "1970-01-01T00:01:00+00:00"
    assert view["remaining_s"] == 45
    assert view["status"] == 503 and view["kind"] == "error"


def test_the_reaper_removes_an_expired_fault_with_no_request_needed(caplog):
    registry = FaultRegistry()
    try:
        registry.set(parse_fault("latency", {"delay_ms": 1, "ttl_s": 1}))
        deadline = time.monotonic() + 5
        while registry._faults and time.monotonic() < deadline:  # the raw map, not active()
            time.sleep(0.05)
        assert registry._faults == {}
        assert "fault expired (TTL): kind=latency" in caplog.text
    finally:
        registry.close()
