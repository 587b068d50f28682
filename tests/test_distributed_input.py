"""`python -m loadtests` refuses, before any load, input that would send it somewhere else than
the record says: workers elsewhere with a loopback master or target, a run id that is no folder."""

import pytest

from loadtests import cli
from loadtests.errors import LoadTestError


def args_for(*argv: str):
    return cli.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv, message", [
    (("distributed", "--remote-workers", "1", "--host", "http://10.0.0.5:5000"),
     "--remote-workers with --master-bind-host 127.0.0.1: workers on other machines cannot "
     "reach a master listening on loopback"),
    (("distributed", "--remote-workers", "1", "--master-bind-host", "0.0.0.0",
      "--host", "http://127.0.0.1:5000"),
     "--host http://127.0.0.1:5000 with --remote-workers: every worker would load its own "
     "machine's loopback"),
    (("distributed", "--remote-workers", "2", "--master-bind-host", "10.0.0.5",
      "--host", "http://localhost:5000"), "every worker would load its own machine's loopback"),
    (("headless", "--run-id", "a,b", "--host", "http://10.0.0.5:5000"),
     "--run-id a,b: use 1-100 letters, digits"),
], ids=["master on loopback", "target on loopback", "target localhost", "run id not a folder"])
def test_input_that_would_mislead_the_record_is_refused_before_any_load(argv, message,
                                                                      monkeypatch):
    def no_network(*_a, **_kw):
        raise AssertionError("the target was contacted before the input was checked")

    monkeypatch.setattr(cli, "check_target", no_network)
    with pytest.raises(LoadTestError) as err:
        cli.prepare(args_for(*argv))
    assert message in str(err.value)


def test_local_workers_may_use_loopback(monkeypatch):
    monkeypatch.setattr(cli, "check_target", lambda *_a, **_kw: [])
    prep = cli.prepare(args_for("distributed", "--workers", "2",
                                "--host", "http://127.0.0.1:5000"))
    assert prep.host == "http://127.0.0.1:5000"


@pytest.mark.parametrize("name, loopback", [("127.0.0.1", True), ("127.1.2.3", True),
                                            ("::1", True), ("localhost", True),
                                            ("10.200.1.1", False), ("0.0.0.0", False),
                                            ("app.example", False), (None, False)])
def test_loopback_addresses_are_recognised(name, loopback):
    assert cli.is_loopback(name) is loopback
