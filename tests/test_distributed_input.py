"""`python -m loadtests` and input that may send the load elsewhere than the record says:
remote workers with a loopback master or target are warned about (workers on this machine are
fine, on another one they are not: the CLI cannot tell); a run id that is no folder is refused
before any load."""

import pytest

from loadtests import cli
from loadtests.errors import LoadTestError


def args_for(*argv: str):
    return cli.build_parser().parse_args(list(argv))


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setattr(cli, "check_target", lambda *_a, **_kw: [])


@pytest.mark.parametrize("argv, warnings", [
    (("--host", "http://10.0.0.5:5000"),
     ["--remote-workers with --master-bind-host 127.0.0.1: workers on other machines cannot "
      "reach a master listening on loopback"]),
    (("--master-bind-host", "0.0.0.0", "--host", "http://127.0.0.1:5000"),
     ["--host http://127.0.0.1:5000 with --remote-workers: a worker on another machine loads "
      "its own loopback"]),
    (("--master-bind-host", "10.0.0.5", "--host", "http://localhost:5000"),
     ["--host http://localhost:5000 with --remote-workers: a worker on another machine loads "
      "its own loopback"]),
    (("--master-bind-host", "10.0.0.5", "--host", "http://10.0.0.5:5000"), []),
], ids=["master on loopback", "target on loopback", "target localhost", "both reachable"])
def test_remote_workers_with_loopback_addresses_are_warned_about(argv, warnings, no_network,
                                                                  capsys):
    prep = cli.prepare(args_for("distributed", "--remote-workers", "1", *argv))
    err = capsys.readouterr().err
    assert prep.host == argv[-1]
    for text in warnings:
        assert f"warning: {text}" in err
    assert err.count("warning:") == len(warnings), err


def test_local_workers_on_loopback_get_no_warning(no_network, capsys):
    cli.prepare(args_for("distributed", "--workers", "2", "--host", "http://127.0.0.1:5000"))
    assert "warning" not in capsys.readouterr().err


def test_a_run_id_that_names_no_folder_is_refused_before_the_target_is_contacted(monkeypatch):
    def contacted(*_a, **_kw):
        raise AssertionError("the target was contacted before the input was checked")

    monkeypatch.setattr(cli, "check_target", contacted)
    with pytest.raises(LoadTestError) as err:
        cli.prepare(args_for("headless", "--run-id", "a,b", "--host", "http://10.0.0.5:5000"))
    assert "--run-id a,b: use 1-100 letters, digits" in str(err.value)


@pytest.mark.parametrize("name, loopback", [("127.0.0.1", True), ("127.1.2.3", True),
                                            ("::1", True), ("localhost", True),
                                            ("10.200.1.1", False), ("0.0.0.0", False),
                                            ("app.example", False), (None, False)])
def test_loopback_addresses_are_recognised(name, loopback):
    assert cli.is_loopback(name) is loopback
