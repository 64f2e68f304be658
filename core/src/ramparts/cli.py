"""The ``ramparts`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import ConfigError, RampartsError

app = typer.Typer(
    name="ramparts",
    help="Build Python desktop apps with an HTML UI and a deny-by-default bridge.",
    no_args_is_help=True,
    add_completion=False,
)

AppDir = Annotated[Path, typer.Argument(help="The app folder (holds pyproject.toml).")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command()
def dev(
    app_dir: AppDir = Path("."),
    headless: Annotated[bool, typer.Option(help="Run with no screen (Qt offscreen).")] = False,
    eval_file: Annotated[
        Path | None,
        typer.Option(
            "--eval",
            help="JS file run as a page script once the page loads; "
            "its body is an async function whose return value is printed as JSON.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds --eval may take.")] = 30.0,
    trace: Annotated[bool, typer.Option(help="Print console messages and bridge calls.")] = False,
) -> None:
    """Run an app from source."""
    from .app import App

    try:
        source = eval_file.read_text(encoding="utf-8") if eval_file else None
    except OSError as e:
        raise _fail(f"cannot read --eval file: {e}") from None
    try:
        the_app = App.load(app_dir)
    except RampartsError as e:
        raise _fail(str(e)) from None

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    cfg = the_app.config
    say(f"ramparts: {cfg.name} ({cfg.identifier}) from {cfg.app_dir}")
    say(f"ramparts: commands: {', '.join(sorted(the_app.registry.routes)) or '(none)'}")
    try:
        result = the_app.run(
            headless=headless, eval_js=source, timeout=timeout, trace=say if trace else None
        )
    except RampartsError as e:
        raise _fail(str(e)) from None
    if result is None:
        return
    if result.timed_out:
        raise _fail(f"--eval timed out: {result.error}", 2)
    if not result.ok:
        raise _fail(f"--eval failed: {result.error}")
    print(result.value)


@app.command()
def check(app_dir: AppDir = Path(".")) -> None:
    """Show the resolved config and plugin status; exit non-zero on problems."""
    from .config import load_config
    from .csp import merge_csp, render_csp
    from .plugins import installed_plugins, suggested_package

    try:
        config = load_config(app_dir)
    except RampartsError as e:
        raise _fail(str(e)) from None
    installed = installed_plugins()
    typer.echo(f"app:          {config.name} {config.version} ({config.identifier})")
    typer.echo(f"config:       {config.file}")
    typer.echo(f"ui:           {config.ui / config.entry}")
    typer.echo(f"commands:     {config.commands or '(none)'}")
    typer.echo(f"handles:      {config.security.handles}")
    typer.echo(f"csp:          {render_csp(merge_csp(dict(config.security.csp)))}")
    typer.echo(f"ui events:    {', '.join(sorted(config.ui_events)) or '(none)'}")
    problems = []
    typer.echo("capabilities:")
    for name, cap in config.capabilities.items():
        state = (
            "installed" if name in installed else f"MISSING (pip install {suggested_package(name)})"
        )
        if name not in installed:
            problems.append(name)
        typer.echo(f"  {name:12} {state}; allow = {list(cap.allow)}")
        for key, value in cap.options.items():
            typer.echo(f"  {'':12} {key} = {json.dumps(value)}")
    unlisted = sorted(set(installed) - set(config.capabilities))
    typer.echo("installed but not listed (never imported): " + (", ".join(unlisted) or "(none)"))
    if not problems:
        try:
            from .app import App

            loaded = App.load(app_dir)
        except RampartsError as e:
            raise _fail(str(e)) from None
        typer.echo("routes:       " + (", ".join(sorted(loaded.registry.routes)) or "(none)"))
    if problems:
        raise _fail(f"missing capability plugins: {', '.join(problems)}")


@app.command()
def plugins(app_dir: AppDir = Path(".")) -> None:
    """List installed capability plugins and whether the app lists them."""
    from .config import load_config
    from .plugins import installed_plugins

    listed: set[str] = set()
    if (app_dir / "pyproject.toml").exists():
        try:
            listed = set(load_config(app_dir).capabilities)
        except ConfigError as e:
            if e.key != "tool.ramparts":  # a pyproject.toml that is not an app's is fine
                raise _fail(str(e)) from None
    found = installed_plugins()
    if not found:
        typer.echo("no capability plugins installed")
    for name, p in sorted(found.items()):
        mark = "listed" if name in listed else "not listed"
        typer.echo(f"{name:12} {p.distribution or '?'} {p.version or ''}  ({p.value})  {mark}")
    for name in sorted(listed - set(found)):
        typer.echo(f"{name:12} MISSING  listed")


# -- new, add, remove (docs/cli.md; templates in cookiecutter/) ------------------------

new_app = typer.Typer(help="Create an app or a capability plugin from a template.")
app.add_typer(new_app, name="new")
OutputDir = Annotated[
    Path, typer.Option("--output-dir", "-o", help="Where to create the project folder.")
]
NoInput = Annotated[bool, typer.Option(help="Use defaults for everything not given.")]


@new_app.command("app")
def new_app_(
    name: Annotated[str, typer.Argument(help="The app's display name, e.g. 'Notes'.")],
    capabilities: Annotated[
        str, typer.Option(help="Comma-separated capabilities to set up narrowly: fs, dialog.")
    ] = "",
    output_dir: OutputDir = Path("."),
    no_input: NoInput = False,
) -> None:
    """Create an app: config, one command, UI, and tests that run it headless."""
    context = {"app_name": name, "capabilities": capabilities.replace(" ", "")}
    _new("app", context, output_dir, no_input, "ramparts dev && pytest")


@new_app.command("plugin")
def new_plugin(
    name: Annotated[str, typer.Argument(help="The capability's name, e.g. 'clipboard'.")],
    output_dir: OutputDir = Path("."),
    no_input: NoInput = False,
) -> None:
    """Create a third-party capability plugin: entry point, a scoped command, docs, tests."""
    _new("plugin", {"capability": name}, output_dir, no_input, "pip install -e . && pytest")


def _new(kind: str, context: dict[str, str], output_dir: Path, no_input: bool, then: str) -> None:
    from .scaffold import new_project

    try:
        made = new_project(kind, context, output_dir=output_dir, no_input=no_input)
    except RampartsError as e:
        raise _fail(str(e)) from None
    typer.echo(f"created {made}\nnext: cd {made} && {then}")


@app.command()
def add(
    capability: Annotated[str, typer.Argument(help="The capability's name, e.g. 'fs'.")],
    app_dir: AppDir = Path("."),
    source: Annotated[
        str | None,
        typer.Option("--from", help="Install this (a local path or a requirement) instead."),
    ] = None,
    install: Annotated[bool, typer.Option(help="Install its distribution if needed.")] = True,
) -> None:
    """Install a capability plugin and declare it, with an empty allow list."""
    from .scaffold import add_capability

    try:
        add_capability(app_dir, capability, source=source, do_install=install, say=typer.echo)
    except RampartsError as e:
        raise _fail(str(e)) from None


@app.command()
def remove(
    capability: Annotated[str, typer.Argument(help="The capability's name.")],
    app_dir: AppDir = Path("."),
    uninstall: Annotated[bool, typer.Option(help="Uninstall its distribution too.")] = True,
) -> None:
    """Remove a capability's config table and uninstall its distribution."""
    from .scaffold import remove_capability

    try:
        remove_capability(app_dir, capability, do_uninstall=uninstall, say=typer.echo)
    except RampartsError as e:
        raise _fail(str(e)) from None


def main() -> None:
    app()
