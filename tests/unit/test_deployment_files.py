"""The deployment files (deploy/) cannot drift from the project: every command, option, module,
environment variable, port, health-check path and copied or mounted file they name must exist.

They cannot be run here (no container engine, no cluster), so this reads them: YAML with
yaml.safe_load_all, the Dockerfile, the entrypoint and haproxy.cfg by lines. Each check is a
function that takes a file's text and returns the problems it finds; the tests at the end feed
deliberately wrong snippets to the same functions, so a renamed subcommand or port is caught.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import inspect
import io
import ipaddress
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = "overdue-assistant:latest"

# Variables the deployment files may name that the project itself does not read, with who does.
THIRD_PARTY_ENV = {
    # the postgres and rabbitmq images create their database, user and password from these
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_USER",
    "RABBITMQ_DEFAULT_PASS",
    # Rasa (worker processes, telemetry) and the libraries under it; the Makefile sets them too
    "SANIC_WORKERS",
    "RASA_TELEMETRY_ENABLED",
    "TF_CPP_MIN_LOG_LEVEL",
    "SQLALCHEMY_SILENCE_UBER_WARNING",
    # Python, pip and the shell inside the image
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONWARNINGS",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PATH",
    "HOME",
}
# Values that must come from the environment or a Secret, never be written in a file.
SECRET_ENV = {
    "BOT_JWT_SECRET",
    "ACTION_SERVER_TOKEN",
    "AGENT_API_TOKEN",
    "SMS_GATEWAY_TOKEN",
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
}
# In Kubernetes these carry credentials (the managed services' URLs): Secret references only.
SECRET_URL_ENV = {"DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "HANDOFF_WEBHOOK_URL", "SMS_GATEWAY_URL"}
# The setting that gives each serving role its port (bot/settings.py has the defaults).
ROLE_PORT_ENV = {"rasa": "RASA_PORT", "actions": "ACTION_PORT", "console": "CONSOLE_PORT"}
# Options of the commands that name a file or folder of the repository.
PATH_OPTIONS = {"--credentials", "--endpoints", "--domain", "--config", "--data"}

UPPER = re.compile(r"[A-Z][A-Z0-9_]*")
VAR_REF = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)([:?+-][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\(([A-Z_][A-Z0-9_]*)\)"
)
URL = re.compile(r"\b(https?|redis|amqp|postgresql\+psycopg2)://[^\s\"',;)]+")
SEPARATORS = {";", ";;", "&&", "||", "|", "&", "(", ")"}
PREFIXES = {"exec", "then", "do", "else", "time", "!"}


# --- what the project has -----------------------------------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


@cache
def project_env_names() -> frozenset[str]:
    """Every environment variable the project reads: bot/settings.py (os.environ and its helpers such
    as _port("RASA_PORT", 5005)), os.environ anywhere in bot/ and actions/, the ${VAR}s Rasa expands
    in the endpoints files, and what the Makefile exports for the processes it starts."""
    names: set[str] = set()
    settings = ROOT / "bot" / "settings.py"
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name, func = _first_string(node), _dotted(node.func)
                reads = func in {"os.environ.get", "os.getenv", "os.environ.setdefault"}
                if name and UPPER.fullmatch(name) and (reads or (path == settings and func.startswith("_"))):
                    names.add(name)
            elif isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
    for path in [*ROOT.glob("endpoints*.yml"), DEPLOY / "endpoints.production.yml"]:
        names |= env_references(path.read_text(encoding="utf-8"))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    names |= set(re.findall(r"^(?:[\w-]+:\s*)?export\s+([A-Z][A-Z0-9_]*)", makefile, re.M))
    return frozenset(names)


@cache
def port_defaults() -> dict[str, int]:
    """The ports of bot/settings.py: {"RASA_PORT": 5005, ...} from its _port(NAME, DEFAULT) calls."""
    found = {}
    for node in ast.walk(ast.parse((ROOT / "bot" / "settings.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and _dotted(node.func) == "_port" and len(node.args) == 2:
            name, default = node.args
            if isinstance(name, ast.Constant) and isinstance(default, ast.Constant):
                found[str(name.value)] = int(default.value)
    return found


def role_port(role: str, env: dict[str, str]) -> int | None:
    """The port a serving role listens on: its setting from ``env``, else the project's default."""
    variable = ROLE_PORT_ENV.get(role)
    if variable is None:
        return None
    return int(env[variable]) if env.get(variable, "").isdigit() else port_defaults()[variable]


@cache
def bot_parser() -> argparse.ArgumentParser:
    from bot.__main__ import build_parser

    return build_parser()


@cache
def rasa_parser() -> argparse.ArgumentParser:
    from rasa.__main__ import create_argument_parser

    return create_argument_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@cache
def served_paths() -> dict[str, frozenset[str]]:
    """The HTTP paths each serving role answers: the in-app channel's blueprint under Rasa's
    /webhooks/<channel> prefix, rasa_sdk's routes (the action server), the console's routes."""
    import rasa_sdk.endpoint

    from bot.console.app import create_app
    from bot.rasa_ext.channel import InAppInput

    channel = InAppInput()
    prefix = "/webhooks/" + channel.url_prefix()  # rasa.core.run.configure_app mounts channels there
    rasa = {prefix + route.uri for route in channel.blueprint(lambda _: None)._future_routes}
    actions = set(re.findall(r"@app\.(?:get|post|route)\(\s*\"([^\"]+)\"", inspect.getsource(rasa_sdk.endpoint)))
    console = {route.path for route in create_app().routes if hasattr(route, "path")}
    return {"rasa": frozenset(rasa), "actions": frozenset(actions), "console": frozenset(console)}


def role_of_port(port: int) -> str | None:
    return next((role for role, variable in ROLE_PORT_ENV.items() if port_defaults()[variable] == port), None)


@cache
def entrypoint_roles() -> frozenset[str]:
    """The roles deploy/entrypoint.sh handles: the patterns of its case branches (``rasa|actions)``)."""
    text = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    return frozenset(r for pattern in re.findall(r"^\s*([a-z][a-z|]*)\)\s*$", text, re.M) for r in pattern.split("|"))


# --- reading the files --------------------------------------------------------------------


def env_references(text: str) -> set[str]:
    """Upper-case variables named as ${VAR}, ${VAR:-x}, $VAR or $(VAR) (lower-case ones are shell locals)."""
    names = set()
    for match in VAR_REF.finditer(text):
        name = match.group(1) or match.group(3) or match.group(4)
        if UPPER.fullmatch(name):
            names.add(name)
    return names


def substitute(text: str) -> str:
    """``text`` with variables replaced as a shell would: ${VAR:-default} by its default, a port variable
    by the project's default port, anything else by a placeholder."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        operator = match.group(2) or ""
        if operator.startswith((":-", "-")):
            return operator.split("-", 1)[1]
        return str(port_defaults().get(name, "1"))

    return VAR_REF.sub(value, text)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) with backslash continuations joined and comment lines left out."""
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending and line.lstrip().startswith("#"):
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""
    if pending:
        yield start, pending


def shell_tokens(line: str) -> list[str]:
    lexer = shlex.shlex(substitute(line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


@dataclass(frozen=True)
class Command:
    """One process a deployment file starts: ``python -m MODULE ...``, ``rasa SUB ...`` or ``entrypoint.sh ROLE``."""

    where: str
    kind: str  # "module", "rasa" or "role"
    name: str  # the module, the rasa subcommand or the role
    args: tuple[str, ...]


def commands_in(tokens: list[str], where: str) -> list[Command]:
    """The commands of a tokenised shell line or exec-form argument list."""
    found = []
    at_start = True
    for i, token in enumerate(tokens):
        if token in SEPARATORS:
            at_start = True
            continue
        if at_start and (token in PREFIXES or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token)):
            continue
        if at_start:
            rest = tokens[i + 1 :]
            end = next((k for k, t in enumerate(rest) if t in SEPARATORS), len(rest))
            args = tuple(rest[:end])
            base = token.rsplit("/", 1)[-1]
            if base in {"python", "python3"} and len(args) >= 2 and args[0] == "-m":
                found.append(Command(where, "module", args[1], args[2:]))
            elif base == "rasa" and args and re.fullmatch(r"[a-z]+", args[0]):
                found.append(Command(where, "rasa", args[0], args[1:]))
            elif base == "entrypoint.sh" and args:
                found.append(Command(where, "role", args[0], args[1:]))
            elif base == "tini" and args[:1] == ("--",):
                found.extend(commands_in(list(args[1:]), where))
        at_start = False
    return found


def shell_commands(text: str, where: str) -> list[Command]:
    return [c for number, line in logical_lines(text) for c in commands_in(shell_tokens(line), f"{where}:{number}")]


def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, rest) of a Dockerfile."""
    found = []
    for number, line in logical_lines(text):
        instruction, _, rest = line.strip().partition(" ")
        if instruction:
            found.append((number, instruction.upper(), rest.strip()))
    return found


def dockerfile_commands(text: str, where: str = "deploy/Dockerfile") -> list[Command]:
    found = []
    for number, instruction, rest in dockerfile_instructions(text):
        if instruction == "HEALTHCHECK":
            rest = rest.split(" CMD ", 1)[1] if " CMD " in rest else ""
        elif instruction not in {"RUN", "CMD", "ENTRYPOINT"}:
            continue
        tokens = json.loads(rest) if rest.startswith("[") else shell_tokens(rest)
        found.extend(commands_in(tokens, f"{where}:{number}"))
    return found


def argv_commands(argv: Any, where: str) -> list[Command]:
    """Commands of a YAML command/args/test list (exec form) or string (shell form)."""
    if isinstance(argv, str):
        return shell_commands(argv, where)
    if not isinstance(argv, list):
        return []
    tokens = [substitute(str(t)) for t in argv]
    if tokens[:1] in (["CMD"], ["CMD-SHELL"]):
        tokens = tokens[1:]
    if len(tokens) >= 3 and tokens[0].rsplit("/", 1)[-1] in {"sh", "bash"} and tokens[1] == "-c":
        return shell_commands(tokens[2], where)
    return commands_in(tokens, where)


def compose_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose.get("services") or {})


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return {k: v for k, _, v in (str(item).partition("=") for item in raw)}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def is_assistant(service: dict[str, Any]) -> bool:
    return service.get("image") == IMAGE or "build" in service


def compose_role(service: dict[str, Any]) -> str | None:
    command = service.get("command")
    if not is_assistant(service):
        return None
    if isinstance(command, list) and command:
        return str(command[0])
    return str(command).split()[0] if command else "rasa"  # the image's CMD


def k8s_objects(documents: Iterable[Any]) -> list[dict[str, Any]]:
    found = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            found.extend(document.get("items") or [])
        elif isinstance(document, dict):
            found.append(document)
    return found


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return spec.get("template") or {}
    if obj.get("kind") == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template") or {}
    return None


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    template = pod_template(obj)
    return None if template is None else template.get("spec") or {}


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return ((pod_template(obj) or {}).get("metadata") or {}).get("labels") or {}


def k8s_containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for obj in objects:
        spec = pod_spec(obj)
        for container in (spec or {}).get("containers") or []:
            yield obj, container


def k8s_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment a container gets: its ConfigMaps (envFrom) and env entries (secret values as '')."""
    maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update({k: str(v) for k, v in maps.get((source.get("configMapRef") or {}).get("name"), {}).items()})
    for entry in container.get("env") or []:
        env[entry["name"]] = str(entry.get("value", ""))
    return env


def k8s_role(container: dict[str, Any]) -> str | None:
    if container.get("image") != IMAGE:
        return None
    args = container.get("args") or container.get("command") or ["rasa"]
    return str(args[0])


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- the checks (each returns the problems it found) --------------------------------------


def _parse_errors(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            parser.parse_args(argv)
        except SystemExit:
            return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else "refused"
    return None


def _unknown_options(parser: argparse.ArgumentParser, args: Iterable[str]) -> list[str]:
    # Exact names: argparse would accept an abbreviation such as --endpoint for --endpoints.
    known = parser._option_string_actions
    return [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "--" and a.split("=", 1)[0] not in known]


def _module_options(module: str) -> set[str] | None:
    """The options a project module's argparse parser defines (its add_argument calls), None without source."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    options = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            options |= {a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")}
    return options | {"-h", "--help"}


def check_command(command: Command, bot: argparse.ArgumentParser | None = None) -> list[str]:
    """A command names a module that imports, and subcommands and options its parser really has."""
    where, args = command.where, list(command.args)
    problems = []
    if command.kind == "role":
        if command.name not in entrypoint_roles():
            problems.append(
                f"{where}: entrypoint.sh has no role {command.name!r} (it has {sorted(entrypoint_roles())})"
            )
        return problems
    if command.kind == "rasa":
        sub = _subparsers(rasa_parser()).get(command.name)
        if sub is None:
            return [f"{where}: `rasa {command.name}` is no Rasa command"]
        problems += [f"{where}: `rasa {command.name}` has no option {o}" for o in _unknown_options(sub, args)]
        error = _parse_errors(rasa_parser(), [command.name, *args])
        if error and not problems:
            problems.append(f"{where}: `rasa {command.name} {' '.join(args)}`: {error}")
        problems += _missing_paths(where, args)
        return problems
    module = command.name
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return [f"{where}: `python -m {module}`: no such module"]
    if module == "bot":
        parser = bot or bot_parser()
        sub = _subparsers(parser).get(args[0]) if args else None
        if sub is None:
            return [f"{where}: `python -m bot {args[0] if args else ''}`: no such subcommand"]
        problems += [f"{where}: `python -m bot {args[0]}` has no option {o}" for o in _unknown_options(sub, args[1:])]
        error = _parse_errors(parser, args)
        if error and not problems:
            problems.append(f"{where}: `python -m bot {' '.join(args)}`: {error}")
    elif module.split(".")[0] in {"bot", "actions", "scripts"}:
        options = _module_options(module) or set()
        problems += [f"{where}: `python -m {module}` has no option {o}" for o in _unknown_options_in(options, args)]
    problems += _missing_paths(where, args)
    return problems


def _unknown_options_in(options: set[str], args: Iterable[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in args if a.startswith("-") and a.split("=", 1)[0] not in options]


def _missing_paths(where: str, args: list[str]) -> list[str]:
    """Options such as --credentials name files of the repository that the image copies."""
    problems = []
    for option, value in zip(args, args[1:], strict=False):
        if option in PATH_OPTIONS:
            if not (ROOT / value).exists():
                problems.append(f"{where}: {option} {value}: no such file in the repository")
            elif not image_has(value):
                problems.append(f"{where}: {option} {value}: the image does not copy it (deploy/Dockerfile)")
    return problems


def check_env_names(names: Iterable[str], where: str, local: Iterable[str] = ()) -> list[str]:
    """Every variable named is read by the project, defined in the same file (ARG) or third-party (allow-list)."""
    known = project_env_names() | THIRD_PARTY_ENV | set(local)
    return [f"{where}: {name} is read by nothing in the project" for name in sorted(set(names) - known)]


def check_port_defaults(text: str, where: str) -> list[str]:
    """A ${PORT_VARIABLE:-N} default is the project's default for that variable."""
    problems = []
    for match in VAR_REF.finditer(text):
        name, operator = match.group(1), match.group(2) or ""
        if name in port_defaults() and operator.startswith(":-"):
            given = operator[2:]
            if given != str(port_defaults()[name]):
                problems.append(f"{where}: {name} defaults to {port_defaults()[name]}, not {given}")
    return problems


def check_url_ports(text: str, where: str, ports_by_host: dict[str, set[int]]) -> list[str]:
    """A URL to one of our own services uses the port that service listens on."""
    problems = []
    for match in URL.finditer(substitute(text)):
        parts = urlsplit(match.group(0))
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            problems.append(f"{where}: {match.group(0)}: not a valid URL")
            continue
        if host in ports_by_host and port not in ports_by_host[host]:
            problems.append(f"{where}: {match.group(0)}: {host} listens on {sorted(ports_by_host[host])}")
    return problems


def check_health_path(path: str, role: str | None, where: str) -> list[str]:
    if role is None:
        return [f"{where}: health check {path} on a port no role of the project serves"]
    if path not in served_paths()[role]:
        return [f"{where}: health check {path}: {role} serves no such path"]
    return []


def image_paths(text: str | None = None) -> list[tuple[int, str, str]]:
    """(line, source in the repository, path in the image relative to WORKDIR) of each COPY."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8") if text is None else text
    found = []
    for number, instruction, rest in dockerfile_instructions(text):
        if instruction not in {"COPY", "ADD"}:
            continue
        parts = [p for p in (json.loads(rest) if rest.startswith("[") else rest.split()) if not p.startswith("--")]
        *sources, dest = parts
        for source in sources:
            inside = dest.rstrip("/") + "/" + Path(source).name if dest.endswith("/") or len(sources) > 1 else dest
            found.append((number, source, inside.removeprefix("./").removeprefix("/app/")))
    return found


def image_has(path: str) -> bool:
    path = path.removeprefix("./")
    return any(path == inside or path.startswith(inside.rstrip("/") + "/") for _, _, inside in image_paths())


def check_dockerfile_copies(text: str, ignore: str, where: str = "deploy/Dockerfile") -> list[str]:
    """Every COPY source exists in the repository and is not left out of the build context."""
    included = [line[1:].strip().rstrip("/") for line in ignore.splitlines() if line.startswith("!")]
    problems = []
    for number, source, _ in image_paths(text):
        if not (ROOT / source).exists():
            problems.append(f"{where}:{number}: COPY {source}: no such file in the repository")
        elif not any(source.rstrip("/") == inc or source.startswith(inc + "/") for inc in included):
            problems.append(f"{where}:{number}: COPY {source}: left out by deploy/Dockerfile.dockerignore")
    return problems


def check_compose(compose: dict[str, Any], where: str = "deploy/compose.yml") -> list[str]:
    """Roles, commands, variables, ports, mounts and secrets of a compose file."""
    problems: list[str] = []
    services = compose_services(compose)
    ports_by_host: dict[str, set[int]] = {}
    for name, service in services.items():
        role = compose_role(service)
        port = role_port(role, compose_env(service)) if role else None
        if port is not None:
            ports_by_host[name] = {port}
    haproxy = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    binds = {int(p) for p in re.findall(r"^\s*bind\s+\S*:(\d+)", haproxy, re.M)}
    for name, service in services.items():
        if "haproxy" in str(service.get("image", "")):
            ports_by_host[name] = binds
    for name, service in services.items():
        at = f"{where}: services.{name}"
        role = compose_role(service)
        env = compose_env(service)
        if role is not None:
            problems += check_command(Command(at, "role", role, ()))
        problems += [p for argv in (service.get("command"), (service.get("healthcheck") or {}).get("test"))
                     for c in argv_commands(argv, at) for p in check_command(c)]  # fmt: skip
        problems += check_env_names(env, at)
        problems += check_env_names(env_references(yaml.safe_dump(service)), at)
        for key, value in env.items():
            problems += check_url_ports(value, f"{at}.environment.{key}", ports_by_host)
            problems += check_port_defaults(value, f"{at}.environment.{key}")
            if key in SECRET_ENV and not re.fullmatch(r"\$\{" + key + r":\?[^}]*\}", value):
                problems.append(f"{at}.environment.{key}: a secret must be ${{{key}:?...}} from the env file")
            password = urlsplit(value).password if "://" in value else None
            if password is not None and not password.startswith("${"):
                problems.append(f"{at}.environment.{key}: the URL's password must come from the env file")
        listening = ports_by_host.get(name, set())
        for exposed in service.get("expose") or []:
            if role in ROLE_PORT_ENV and int(exposed) not in listening:
                problems.append(f"{at}.expose: {exposed}, but {role} listens on {sorted(listening)}")
        for published in service.get("ports") or []:
            inside = int(str(published).rsplit(":", 1)[-1].split("/")[0])
            if listening and inside not in listening:
                problems.append(f"{at}.ports: {published}, but it listens on {sorted(listening)}")
        build = service.get("build")
        if isinstance(build, dict):
            context = (DEPLOY / build.get("context", ".")).resolve()
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problems.append(f"{at}.build: no {build.get('dockerfile')} in {context}")
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith((".", "/")) and not (DEPLOY / source).resolve().exists():
                problems.append(f"{at}.volumes: {source} does not exist (relative to deploy/)")
    return problems


def check_trusted_proxies(compose: dict[str, Any], where: str = "deploy/compose.yml") -> list[str]:
    """Rasa believes X-Forwarded-For from HAProxy: the proxy's address is inside TRUSTED_PROXIES."""
    from bot.client_address import parse_trusted

    services = compose_services(compose)
    proxies = []
    for service in services.values():
        networks = service.get("networks")
        if "haproxy" in str(service.get("image", "")) and isinstance(networks, dict):
            proxies += [ipaddress.ip_address(n["ipv4_address"]) for n in networks.values() if n and "ipv4_address" in n]
    problems = []
    for name, service in services.items():
        if compose_role(service) != "rasa":
            continue
        trusted = parse_trusted(compose_env(service).get("TRUSTED_PROXIES"))
        if not proxies:
            problems.append(f"{where}: HAProxy has no fixed address for TRUSTED_PROXIES to name")
        for proxy in proxies:
            if not any(proxy in network for network in trusted):
                problems.append(f"{where}: services.{name}: TRUSTED_PROXIES does not cover HAProxy at {proxy}")
    return problems


def haproxy_sections(text: str) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    """(section header, [(line, words)]) of an HAProxy configuration: a header starts at column 0."""
    sections: list[tuple[str, list[tuple[int, list[str]]]]] = []
    for number, line in logical_lines(text):
        words = line.split()
        if not words:
            continue
        if not line[0].isspace():
            sections.append((" ".join(words[:2]), []))
        elif sections:
            sections[-1][1].append((number, words))
    return sections


def check_haproxy(text: str, compose: dict[str, Any], where: str = "deploy/haproxy.cfg") -> list[str]:
    """Backends point at compose services on their ports; health checks ask for a path those serve."""
    problems = []
    services = compose_services(compose)
    if not re.search(r"^\s*option\s+forwardfor\b", text, re.M):
        problems.append(f"{where}: no `option forwardfor`: Rasa would see every customer as the proxy")
    for header, lines in haproxy_sections(text):
        if not header.startswith(("backend", "listen")):
            continue
        roles, checks = set(), []
        for number, words in lines:
            if words[0] in {"server", "server-template"} and len(words) >= 3:
                address = words[3] if words[0] == "server-template" else words[2]
                host, _, port = address.rpartition(":")
                service = services.get(host)
                role = compose_role(service) if service else None
                if role is None:
                    problems.append(f"{where}:{number}: {host} is no assistant service of deploy/compose.yml")
                    continue
                roles.add(role)
                expected = role_port(role, compose_env(service or {}))
                if expected != int(port):
                    problems.append(f"{where}:{number}: {host} listens on {expected}, not {port}")
            elif words[0] == "http-check" and "uri" in words:
                checks.append((number, words[words.index("uri") + 1]))
            elif words[:2] == ["option", "httpchk"] and len(words) >= 4:
                checks.append((number, words[3]))
        for number, path in checks:
            for role in roles or {None}:
                problems += check_health_path(path, role, f"{where}:{number}")
    return problems


def check_k8s(objects: list[dict[str, Any]], where: str = "deploy/k8s/assistant.yaml") -> list[str]:
    """Roles, commands, variables, ports, probes, Services, secrets and security of the manifests."""
    problems: list[str] = []
    services = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Service"}
    workloads = [o for o in objects if pod_spec(o) is not None]
    ports_by_host: dict[str, set[int]] = {}
    for name, service in services.items():
        ports_by_host[name] = {int(p["port"]) for p in service["spec"].get("ports") or []}
        selected = [
            (w, c)
            for w in workloads
            for c in pod_spec(w).get("containers") or []  # type: ignore[union-attr]
            if labels_match(service["spec"].get("selector") or {}, pod_labels(w))
        ]
        if not selected:
            problems.append(f"{where}: Service {name} selects no workload")
        for port in service["spec"].get("ports") or []:
            container_ports = {int(p["containerPort"]) for _, c in selected for p in c.get("ports") or []}
            if int(port.get("targetPort", port["port"])) not in container_ports:
                problems.append(
                    f"{where}: Service {name}: targetPort {port.get('targetPort')} not in {container_ports}"
                )
    for obj in objects:
        if obj.get("kind") == "ConfigMap":
            at = f"{where}: ConfigMap {obj['metadata']['name']}"
            problems += check_env_names(obj.get("data") or {}, at)
            for key, value in (obj.get("data") or {}).items():
                problems += check_url_ports(str(value), f"{at}.{key}", ports_by_host)
                if key in SECRET_ENV | SECRET_URL_ENV:
                    problems.append(f"{at}.{key}: a secret belongs in the Secret, not the ConfigMap")
        spec = pod_spec(obj)
        if spec is None:
            continue
        if obj.get("kind") == "Deployment":
            selector = obj["spec"].get("selector", {}).get("matchLabels", {})
            if not labels_match(selector, pod_labels(obj)):
                problems.append(f"{where}: Deployment {obj['metadata']['name']}: selector does not match its pods")
        security = spec.get("securityContext") or {}
        if not security.get("runAsNonRoot") or not security.get("runAsUser"):
            problems.append(f"{where}: {obj['kind']} {obj['metadata']['name']}: not runAsNonRoot with a user id")
    for obj, container in k8s_containers(objects):
        at = f"{where}: {obj['kind']} {obj['metadata']['name']} container {container['name']}"
        role = k8s_role(container)
        env = k8s_env(objects, container)
        if role is not None:
            problems += check_command(Command(at, "role", role, ()))
        for key in ("command", "args"):
            problems += [p for c in argv_commands(container.get(key), at) for p in check_command(c)]
        for entry in container.get("env") or []:
            problems += check_env_names([entry["name"]], at)
            secret = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if entry["name"] in SECRET_ENV | SECRET_URL_ENV and secret is None:
                problems.append(f"{at}: {entry['name']} must come from a secretKeyRef, not a value")
        problems += check_env_names(env_references(yaml.safe_dump(container)), at)
        if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}: allowPrivilegeEscalation is not false")
        port = role_port(role, env) if role else None
        declared = {int(p["containerPort"]) for p in container.get("ports") or []}
        if port is not None and declared != {port}:
            problems.append(f"{at}: containerPort {sorted(declared)}, but {role} listens on {port}")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http:
                probe_port = int(http["port"])
                if probe_port not in declared:
                    problems.append(f"{at}: {probe} on port {probe_port}, not a containerPort")
                problems += check_health_path(http["path"], role_of_port(probe_port), f"{at} {probe}")
        if role == "rasa":
            problems += _check_drain_hook(container, env, at)
    return problems


def _check_drain_hook(container: dict[str, Any], env: dict[str, str], at: str) -> list[str]:
    command = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    script = " ".join(map(str, command))
    if not env.get("DRAIN_FILE"):
        return [f"{at}: DRAIN_FILE is not set, so preStop cannot drain"]
    if ("DRAIN_FILE" not in script and env["DRAIN_FILE"] not in script) or "sleep" not in script:
        return [f"{at}: preStop must create the drain file and sleep"]
    return []


def check_production_endpoints(text: str, scaled: str, rasa_envs: dict[str, dict[str, str]]) -> list[str]:
    """The production endpoints keep the scaled set-up's stores and broker, and Rasa gets every variable."""
    production, shipped = yaml.safe_load(text), yaml.safe_load(scaled)
    problems = []
    for section in ("tracker_store", "lock_store", "event_broker"):
        if production.get(section) != shipped.get(section):
            problems.append(f"deploy/endpoints.production.yml: {section} differs from endpoints.scaled.yml")
    others = {k: v for k, v in production["action_endpoint"].items() if k != "url"}
    if others != {k: v for k, v in shipped["action_endpoint"].items() if k != "url"}:
        problems.append("deploy/endpoints.production.yml: action_endpoint differs from endpoints.scaled.yml")
    for where, env in rasa_envs.items():
        for name in sorted(env_references(text) - set(env)):
            problems.append(f"{where}: Rasa needs {name} (deploy/endpoints.production.yml) but it is not set")
    return problems


# --- the files as they are ----------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yml").read_text(encoding="utf-8"))


@cache
def k8s() -> list[dict[str, Any]]:
    return k8s_objects(yaml.safe_load_all((DEPLOY / "k8s" / "assistant.yaml").read_text(encoding="utf-8")))


def dockerfile_args(text: str) -> set[str]:
    return {rest.split("=", 1)[0] for _, instruction, rest in dockerfile_instructions(text) if instruction == "ARG"}


def test_every_file_in_deploy_is_read_by_these_checks() -> None:
    checked = {
        "Dockerfile",
        "Dockerfile.dockerignore",
        "entrypoint.sh",
        "compose.yml",
        "haproxy.cfg",
        "endpoints.production.yml",
        "assistant.env.example",
        "k8s/assistant.yaml",
    }
    present = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert present == checked


def test_every_yaml_file_parses() -> None:
    for path in [*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]:
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path


def test_the_entrypoint_runs_a_real_command_for_every_role_and_nothing_else() -> None:
    text = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    commands = shell_commands(text, "deploy/entrypoint.sh")
    assert entrypoint_roles() >= {"rasa", "actions", "console", "analytics", "tickets", "notices", "migrate"}
    assert {c.name for c in commands if c.kind == "rasa"} == {"run"}
    assert {" ".join([c.name, *c.args[:3]]) for c in commands if c.name == "bot"} == {
        "bot console --host 0.0.0.0",
        "bot analytics consume",
        "bot tickets worker",
        "bot notices run",
        "bot migrate",
    }
    assert [p for c in commands for p in check_command(c)] == []
    assert check_env_names(env_references(text), "deploy/entrypoint.sh") == []
    assert check_port_defaults(text, "deploy/entrypoint.sh") == []
    served = [line for _, line in logical_lines(text) if "exec" in line and ("--interface" in line or "--host" in line)]
    assert served and all("0.0.0.0" in line for line in served)  # noqa: S104 - reachable from outside the container


def test_the_entrypoints_health_urls_are_routes_of_the_role_on_that_port() -> None:
    text = substitute((DEPLOY / "entrypoint.sh").read_text(encoding="utf-8"))
    urls = [urlsplit(u.group(0)) for u in URL.finditer(text)]
    assert len(urls) == 3
    assert [p for u in urls for p in check_health_path(u.path, role_of_port(u.port or 80), "entrypoint.sh")] == []


def test_the_dockerfile_copies_what_exists_runs_real_commands_and_names_known_variables() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert check_dockerfile_copies(text, ignore) == []
    commands = dockerfile_commands(text)
    assert {c.name for c in commands if c.kind == "rasa"} == {"train"}
    assert {c.name for c in commands if c.kind == "role"} == {"healthcheck"}
    assert [p for c in commands for p in check_command(c)] == []
    env = {w.split("=", 1)[0] for _, ins, rest in dockerfile_instructions(text) if ins == "ENV" for w in rest.split()}
    names = {n for n in env if UPPER.fullmatch(n)} | env_references(text)
    assert check_env_names(names, "deploy/Dockerfile", local=dockerfile_args(text)) == []
    exposed = {int(p) for _, ins, rest in dockerfile_instructions(text) if ins == "EXPOSE" for p in rest.split()}
    assert exposed == set(port_defaults().values())
    assert re.search(r"^FROM python:3\.10-slim", text, re.M)
    assert re.search(r"^USER 10001", text, re.M)  # not root


def test_the_image_installs_exactly_what_make_install_installs() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pip = re.search(r'pip install --quiet --upgrade "(pip==[\d.]+)"', makefile)
    assert pip and f'"{pip.group(1)}"' in text
    assert "-c constraints.txt -e ." in text  # the same editable install of the project, pinned
    assert "[dev]" not in text  # without the test and lint tools


def test_compose_names_real_roles_commands_variables_ports_and_files() -> None:
    assert check_compose(compose()) == []
    services = compose_services(compose())
    assert {compose_role(s) for s in services.values()} >= {
        "migrate", "rasa", "actions", "console", "analytics", "tickets", "notices"
    }  # fmt: skip
    rasa = services["rasa"]
    assert rasa["deploy"]["replicas"] >= 2 and int(compose_env(rasa)["SANIC_WORKERS"]) >= 2
    assert {"postgres", "redis", "rabbitmq", "haproxy"} <= set(services)


def test_compose_trusts_exactly_the_network_haproxy_forwards_from() -> None:
    assert check_trusted_proxies(compose()) == []


def test_haproxy_forwards_to_rasa_and_checks_the_health_endpoint() -> None:
    text = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    assert check_haproxy(text, compose()) == []
    assert "/webhooks/inapp/health" in text


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed (Debian package haproxy)")
def test_haproxy_accepts_the_configuration() -> None:
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_kubernetes_manifests_name_real_roles_ports_probes_and_secret_references() -> None:
    objects = k8s()
    assert check_k8s(objects) == []
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {k for k, _ in kinds} >= {"ConfigMap", "Deployment", "Service", "Job", "CronJob"}
    roles = {k8s_role(c): o["kind"] for o, c in k8s_containers(objects)}
    assert roles == {
        "migrate": "Job",
        "rasa": "Deployment",
        "actions": "Deployment",
        "console": "Deployment",
        "analytics": "Deployment",
        "tickets": "Deployment",
        "notices": "CronJob",
    }
    assert not [o for o in objects if o.get("kind") == "Secret"]  # references only


def test_the_production_endpoints_keep_the_scaled_stores_and_rasa_gets_their_variables() -> None:
    text = (DEPLOY / "endpoints.production.yml").read_text(encoding="utf-8")
    scaled = (ROOT / "endpoints.scaled.yml").read_text(encoding="utf-8")
    rasa_envs = {
        f"deploy/compose.yml: services.{name}": compose_env(s)
        for name, s in compose_services(compose()).items()
        if compose_role(s) == "rasa"
    }
    objects = k8s()
    rasa_envs |= {
        f"deploy/k8s/assistant.yaml: {o['metadata']['name']}": k8s_env(objects, c)
        for o, c in k8s_containers(objects)
        if k8s_role(c) == "rasa"
    }
    assert len(rasa_envs) == 2
    assert check_production_endpoints(text, scaled, rasa_envs) == []
    assert yaml.safe_load(text)["action_endpoint"]["url"] == "${ACTION_SERVER_URL}/webhook"


def test_the_env_file_example_names_every_secret_the_files_ask_for_and_holds_no_values() -> None:
    text = (DEPLOY / "assistant.env.example").read_text(encoding="utf-8")
    filled = re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.M)
    names = {name for name, _ in filled} | set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    assert check_env_names(names, "deploy/assistant.env.example") == []
    assert [name for name, value in filled if value] == []  # the operator fills them in, in a copy
    interpolated = {n for s in compose_services(compose()).values() for n in env_references(yaml.safe_dump(s))}
    assert interpolated <= {name for name, _ in filled}, interpolated - names
    secret_keys = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for _, c in k8s_containers(k8s())
        for e in c.get("env") or []
        if (e.get("valueFrom") or {}).get("secretKeyRef")
    }
    assert secret_keys <= names, secret_keys - names


def test_no_deployment_file_holds_a_development_or_test_secret() -> None:
    from bot.settings import DEV_ACTION_SERVER_TOKEN, DEV_AGENT_API_TOKEN, DEV_JWT_SECRET

    for path in DEPLOY.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for secret in (DEV_JWT_SECRET, DEV_ACTION_SERVER_TOKEN, DEV_AGENT_API_TOKEN, "guest:guest"):
                assert secret not in text, (path, secret)


# --- the checks catch drift ---------------------------------------------------------------


def test_a_renamed_cli_subcommand_is_caught() -> None:
    snippet = "exec python -m bot analytic consume\n"
    [problem] = [p for c in shell_commands(snippet, "snippet") for p in check_command(c)]
    assert "python -m bot analytic" in problem and "no such subcommand" in problem


def test_the_real_files_fail_when_the_cli_renames_a_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("migrate", "console", "notices", "tickets", "analytics-consume"):  # "analytics" renamed
        sub.add_parser(name)
    text = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    problems = [p for c in shell_commands(text, "deploy/entrypoint.sh") for p in check_command(c, bot=parser)]
    assert any("python -m bot analytics" in p for p in problems), problems


def test_an_option_the_cli_does_not_have_is_caught_even_as_an_abbreviation() -> None:
    snippet = "python -m bot console --listen 0.0.0.0\nrasa run --endpoint endpoints.yml --model models\n"
    problems = [p for c in shell_commands(snippet, "snippet") for p in check_command(c)]
    assert any("has no option --listen" in p for p in problems)
    assert any("`rasa run` has no option --endpoint" in p for p in problems)  # argparse alone would accept it


def test_a_wrong_choice_a_missing_module_and_a_missing_file_are_caught() -> None:
    snippet = (
        "python -m bot tickets deliver\n"
        "python -m bot.rasa_ext.actions_server --port 5055\n"
        "python -m bot.rasa_ext.action_server --listen 0.0.0.0\n"
        "rasa run --credentials credential.yml\n"
        "rasa serve --port 5005\n"
    )
    problems = [p for c in shell_commands(snippet, "snippet") for p in check_command(c)]
    assert any("tickets deliver" in p and "invalid choice" in p for p in problems), problems
    assert any("actions_server`: no such module" in p for p in problems)
    assert any("action_server` has no option --listen" in p for p in problems)
    assert any("credential.yml: no such file" in p for p in problems)
    assert any("`rasa serve` is no Rasa command" in p for p in problems)


def test_an_unknown_variable_a_wrong_port_and_a_literal_secret_are_caught_in_compose() -> None:
    snippet = yaml.safe_load(
        """
services:
  actions:
    image: overdue-assistant:latest
    command: ["actions"]
    expose: ["5056"]
  rasa:
    image: overdue-assistant:latest
    command: ["rasa"]
    environment:
      RASA_PROT: "5006"
      ACTION_SERVER_URL: http://actions:5056
      BOT_JWT_SECRET: 0123456789abcdef0123456789abcdef
      DATABASE_URL: postgresql+psycopg2://assistant:hunter2@postgres/assistant
  worker:
    image: overdue-assistant:latest
    command: ["worker"]
"""
    )
    problems = check_compose(snippet, "snippet")
    assert any("RASA_PROT is read by nothing" in p for p in problems)
    assert any("http://actions:5056: actions listens on [5055]" in p for p in problems)
    assert any("expose: 5056" in p for p in problems)
    assert any("BOT_JWT_SECRET: a secret must be" in p for p in problems)
    assert any("DATABASE_URL: the URL's password" in p for p in problems)
    assert any("no role 'worker'" in p for p in problems)


def test_a_health_check_on_a_path_nobody_serves_is_caught() -> None:
    snippet = "backend rasa\n    option forwardfor\n    http-check send meth GET uri /webhooks/inapp/healthz\n"
    snippet += "    server-template rasa 4 rasa:5006\n"
    problems = check_haproxy(snippet, compose(), "snippet")
    assert any("/webhooks/inapp/healthz: rasa serves no such path" in p for p in problems)
    assert any("rasa listens on 5005, not 5006" in p for p in problems)
    assert any("no `option forwardfor`" in p for p in check_haproxy("backend rasa\n", compose(), "snippet"))


def test_a_kubernetes_probe_on_a_wrong_path_or_port_and_a_secret_in_the_config_map_are_caught() -> None:
    objects = k8s_objects(
        yaml.safe_load_all(
            """
apiVersion: v1
kind: ConfigMap
metadata: {name: assistant-config}
data: {AGENT_API_TOKEN: abc, RASA_URL: "http://assistant-rasa:5006"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: assistant-rasa}
spec:
  selector: {matchLabels: {app: rasa}}
  template:
    metadata: {labels: {app: rasa}}
    spec:
      containers:
        - name: rasa
          image: overdue-assistant:latest
          args: ["rasa"]
          ports: [{containerPort: 5005}]
          envFrom: [{configMapRef: {name: assistant-config}}]
          env: [{name: BOT_JWT_SECRET, value: literal}]
          readinessProbe: {httpGet: {path: /healthz, port: 5005}}
---
apiVersion: v1
kind: Service
metadata: {name: assistant-rasa}
spec:
  selector: {app: rasa}
  ports: [{port: 5005, targetPort: 5055}]
"""
        )
    )
    problems = check_k8s(objects, "snippet")
    assert any("AGENT_API_TOKEN: a secret belongs in the Secret" in p for p in problems)
    assert any("assistant-rasa:5006: assistant-rasa listens on [5005]" in p for p in problems)
    assert any("BOT_JWT_SECRET must come from a secretKeyRef" in p for p in problems)
    assert any("/healthz: rasa serves no such path" in p for p in problems)
    assert any("targetPort 5055" in p for p in problems)
    assert any("not runAsNonRoot" in p for p in problems)
    assert any("preStop" in p or "DRAIN_FILE" in p for p in problems)


def test_a_copy_of_a_missing_or_ignored_file_and_changed_stores_are_caught() -> None:
    problems = check_dockerfile_copies("COPY nonexistent.txt ./\nCOPY scripts ./scripts\n", "**\n!bot\n")
    assert any("COPY nonexistent.txt: no such file" in p for p in problems)
    assert any("COPY scripts: left out by deploy/Dockerfile.dockerignore" in p for p in problems)
    scaled = (ROOT / "endpoints.scaled.yml").read_text(encoding="utf-8")
    changed = (
        (DEPLOY / "endpoints.production.yml").read_text(encoding="utf-8").replace("key_prefix: bot", "key_prefix: b")
    )
    problems = check_production_endpoints(changed, scaled, {"rasa": {"REDIS_URL": "x"}})
    assert any("tracker_store differs" in p for p in problems)
    assert any("Rasa needs ACTION_SERVER_URL" in p for p in problems)


@pytest.mark.parametrize("default", ["5006", "80"])
def test_a_port_default_other_than_the_projects_is_caught(default: str) -> None:
    [problem] = check_port_defaults(f'--port "${{RASA_PORT:-{default}}}"', "snippet")
    assert f"RASA_PORT defaults to 5005, not {default}" in problem
