"""docker-compose.yml is validated, not started (no Docker engine here): every
variable it uses is documented in .env.example, and no secret has a default."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")
SECRETS = {"INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_TOKEN", "JUPYTER_TOKEN", "VIGILEOS_API_TOKEN",
           "VIGILEOS_DASHBOARD_TOKEN"}


def _compose_text() -> str:
    """The compose file without its comment lines (compose interpolates only the rest)."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def _documented() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_compose_file_parses_and_has_the_three_services():
    compose = yaml.safe_load(_compose_text())
    assert set(compose["services"]) == {"influxdb", "jupyterlab", "voila", "api"}
    assert compose["services"]["influxdb"]["image"] == "influxdb:2.7"
    assert compose["services"]["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert all("healthcheck" in service for service in compose["services"].values())
    assert compose["services"]["jupyterlab"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_every_variable_is_documented_in_env_example():
    used = {match.group(1) for match in _VARIABLE.finditer(_compose_text())}
    missing = used - set(_documented())
    assert not missing, f"document {sorted(missing)} in .env.example"


def test_every_documented_variable_has_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            above = [text for text in lines[max(0, index - 3):index] if text.startswith("#")]
            assert above, f"{line.split('=')[0]} in .env.example has no comment above it"


def test_secrets_have_no_default_and_are_required():
    for match in _VARIABLE.finditer(_compose_text()):
        name, modifier = match.group(1), match.group(2) or ""
        if name in SECRETS:
            assert modifier.startswith(":?"), f"${{{name}}} must be written ${{{name}:?message}}"
    assert all(_documented()[name] == "" for name in SECRETS)


def _cli_options(*path: str) -> set[str]:
    """The option names of the ``vigileos`` command at ``path`` (e.g. ``("dashboard",)``)."""
    from vigileos_analytics.cli import main

    command = main
    for name in path:
        command = command.commands[name]
    return {opt for param in command.params for opt in param.opts}


def test_voila_service_runs_the_cli_dashboard_server():
    """The dashboards in a deployment are served by `vigileos dashboard`, so its preheating,
    idle culling and hidden tracebacks apply there too, never by a raw `voila` command."""
    services = yaml.safe_load(_compose_text())["services"]
    command = services["voila"]["command"]
    assert isinstance(command, list) and command[:2] == ["vigileos", "dashboard"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert any(mapping.endswith(f":{port}") for mapping in services["voila"]["ports"])
    flags = [word for word in command[2:] if word.startswith("-")]
    assert set(flags) <= _cli_options("dashboard"), f"unknown options in {command}"
    # 0.0.0.0 is refused without a token: the service must be given one, required (no default).
    assert "VIGILEOS_DASHBOARD_TOKEN" in services["voila"]["environment"]
    assert "VIGILEOS_DASHBOARD_TOKEN" in " ".join(services["voila"]["healthcheck"]["test"])
    for name, service in services.items():
        text = " ".join(service["command"]) if isinstance(service.get("command"), list) else service.get("command", "")
        assert not re.match(r"\s*(python -m )?voila\b", text), f"{name} starts voila directly: {text}"


def test_image_installs_the_wheel_as_a_user_would():
    """A regular install with the verified versions (no -e: the image must not depend on
    the source tree), and the CLI commands the image runs exist."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    installs = [line for line in lines if "pip install" in line and not line.startswith("#")]
    assert installs and all("-c constraints.txt" in line and " -e " not in line for line in installs)
    assert any("rm -rf /src" in line for line in installs), "the source tree must not stay in the image"
    assert any(line.startswith("RUN vigileos templates copy") for line in lines)
    assert "--force" in _cli_options("templates", "copy")  # a KeyError if the command is gone
