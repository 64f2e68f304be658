"""The ``ramparts`` command line.

Internal: the commands are documented in docs/cli.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from ramparts.errors import ConfigError, RampartsError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from ramparts.config import AppConfig
    from ramparts.release.build import BuildResult
    from ramparts.release.deb import Compression, DebPlan

app = typer.Typer(
    name="ramparts",
    help="Build Python desktop apps with an HTML UI and a deny-by-default bridge.",
    no_args_is_help=True,
    add_completion=False,
)

AppDir = Annotated[Path, typer.Argument(help="The app folder (holds pyproject.toml).")]
AppArgs = Annotated[
    list[str] | None,
    typer.Argument(
        help="The app's own arguments (after --); with single_instance on and the app "
        "running, they are handed to it."
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _cli_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one ``error:`` line and exit code 1."""
    try:
        yield
    except RampartsError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _os_fail(e) from None


def _os_fail(e: OSError) -> typer.Exit:
    """A file-system error as one line that names the path, not a traceback."""
    paths = " -> ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    return _fail(f"{paths}: {e.strerror}" if paths and e.strerror else str(e))


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _no_display() -> bool:
    """No X11 or Wayland screen to open a window on (Linux and the other X11 systems)."""
    if sys.platform in ("darwin", "win32"):
        return False
    return not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


@app.command()
def dev(
    app_dir: AppDir = Path("."),
    args: AppArgs = None,
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
    trace: Annotated[
        bool, typer.Option(help="Print every console message and bridge call.")
    ] = False,
    devtools: Annotated[
        bool,
        typer.Option(help="Open the engine's inspector in a window of its own (no port)."),
    ] = False,
    dev_server: Annotated[
        bool,
        typer.Option(
            help="Serve the pages from [tool.ramparts.dev] url (starting its "
            "before_dev_command) when the config has one; --no-dev-server: the ui folder.",
        ),
    ] = True,
    reload: Annotated[
        bool, typer.Option(help="Restart the app on Python changes, reload it on ui changes.")
    ] = False,
    watch_ui: Annotated[bool, typer.Option(hidden=True)] = False,  # --reload's child process
) -> None:
    """Run an app from source; page errors and warnings print on stderr; F5 reloads."""
    from ramparts.run import run_app

    if not headless and _no_display():
        # Qt falls back to offscreen: with no window to close, say so, or it looks hung.
        typer.echo(
            "ramparts dev: no display: running headless (Qt offscreen); stop with Ctrl+C",
            err=True,
        )
    if reload:
        raise typer.Exit(
            _supervise(app_dir, eval_file, headless, trace, devtools, dev_server, args or [])
        )
    code = run_app(
        app_dir,
        headless=headless,
        eval_file=eval_file,
        timeout=timeout,
        trace=trace,
        page_errors=True,
        devtools=devtools,
        dev_server=dev_server,
        dev=True,
        watch_ui=watch_ui,
        args=args or (),
    )
    if code:
        raise typer.Exit(code)


def _supervise(
    app_dir: Path,
    eval_file: Path | None,
    headless: bool,
    trace: bool,
    devtools: bool,
    dev_server: bool,
    args: list[str],
) -> int:
    """``dev --reload``: run the app in a child process, restarted on Python changes."""
    if eval_file is not None:
        raise _fail("--reload runs until stopped and --eval exits: use one or the other", 2)
    from ramparts.config import load_config
    from ramparts.dev.loop import supervise  # watchfiles: only for --reload
    from ramparts.dev.server import running

    flags = {
        "--headless": headless or _no_display(),  # said once above, not at each restart
        "--trace": trace,
        "--devtools": devtools,
        "--no-dev-server": not dev_server,
    }
    try:
        config: AppConfig | None = load_config(app_dir)
    except RampartsError:
        config = None  # the app's own start says what is wrong, then waits for a fix
    # One dev server for the whole session: restarting the app keeps it (and what it
    # has compiled); the app's starts only wait for its URL.
    serve = dev_server and config is not None and config.dev.url is not None
    with _cli_errors(), running(config, _say) if serve and config else contextlib.nullcontext():
        return supervise(app_dir, [*(flag for flag, on in flags.items() if on), "--", *args])


@app.command()
def check(app_dir: AppDir = Path(".")) -> None:
    """Show the resolved config and plugin status; exit non-zero on problems."""
    from ramparts.config import load_config
    from ramparts.csp import merge_csp, render_csp
    from ramparts.plugins import installed_plugins, suggested_package

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
    typer.echo(f"icon:         {config.icon or '(none)'}")
    typer.echo(f"instances:    {_instances(config)}")
    _check_dev(config)
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
    typer.echo("windows:")
    for w in config.windows:
        caps = ", ".join(w.capabilities) or "none"
        typer.echo(
            f"  {w.label:12} capabilities: {caps}; web permissions: {', '.join(w.web) or 'none'}"
        )
    _check_menus(config)
    for warning in _literal_glob_warnings(config.capabilities):
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    unlisted = sorted(set(installed) - set(config.capabilities))
    typer.echo("installed but not listed (never imported): " + (", ".join(unlisted) or "(none)"))
    if not problems:
        try:
            from ramparts.app import App

            loaded = App.load(app_dir, dev=config.dev.url is not None)
        except RampartsError as e:
            raise _fail(str(e)) from None
        typer.echo("routes:       " + (", ".join(sorted(loaded.registry.routes)) or "(none)"))
        if not config.menus.ids() and loaded.menus.ids():
            built = ", ".join(m.label for m in loaded.menus.menu) or "(none)"
            typer.echo(f"menus:        built in Python (@build_menus): app menu: {built}")
    if problems:
        raise _fail(f"missing capability plugins: {', '.join(problems)}")


def _check_menus(config: AppConfig) -> None:
    """``check``'s menu lines: the declared items, and which pages hear which."""
    from ramparts.menuconfig import menu_ids

    bar = ", ".join(m.label for m in config.menus.menu) or "(none)"
    context = ", ".join(menu_ids(config.menus.context_menu)) or "(none)"
    typer.echo(f"menus:        app menu: {bar}; context menu items: {context}")
    for w in config.windows:
        typer.echo(f"  {w.label:12} menu events to the page: {', '.join(w.menu_events) or 'none'}")


def _instances(config: AppConfig) -> str:
    """``check``'s line for ``single_instance``: who gets a second start's arguments."""
    single = config.single_instance
    if single is None:
        return "any number (single_instance is off)"
    pages = ", ".join(single.windows) or "none (Python only)"
    return f"one per user (single_instance); second instances' arguments reach pages: {pages}"


def _check_dev(config: AppConfig) -> None:
    """The dev server lines of ``check``, and a warning when the UI is not built yet."""
    dev = config.dev
    if dev.url is not None:
        typer.echo(f"dev server:   {dev.url} (ramparts dev only)")
    for key in ("before_dev_command", "before_build_command"):
        command = getattr(dev, key)
        if command is not None:
            typer.echo(f"  {key}: {command}")
    if dev.url is not None and not (config.ui / config.entry).is_file():
        build = f" (run: {dev.before_build_command})" if dev.before_build_command else ""
        typer.secho(
            f"warning: {config.ui / config.entry} does not exist yet: ramparts dev serves "
            f"the dev server's pages, but tests and builds need the built UI{build}",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _literal_glob_warnings(capabilities: Mapping[str, Any]) -> list[str]:
    """Path-scope patterns holding ``[ ] { }``, which scopes match literally.

    Only ``*``, ``?`` and ``**`` are wildcards (toolkit/scope.py ``compile_glob``), so
    ``$HOME/{a,b}/**`` allows a folder named ``{a,b}``: most likely not what was meant,
    and it fails closed, so nothing else would say so. An escaped ``\\[`` is deliberate.
    """
    found = []

    def walk(where: str, value: Any) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{where}[{i}]", item)
        if not isinstance(value, Mapping):
            return
        for key, item in value.items():
            if key in ("allow", "deny") and isinstance(item, list):
                for p in item:
                    # Path patterns only (absolute): URL scopes hold "[::1]" hosts.
                    if not (isinstance(p, str) and re.match(r"[$/~]|[A-Za-z]:[\\/]", p)):
                        continue
                    chars = " ".join(sorted(set(re.sub(r"\\.", "", p)) & set("[]{}")))
                    if chars:
                        found.append(
                            f"{where}.{key}: {p!r}: {chars} match literally in path scopes "
                            "(only * ? ** are wildcards): list each alternative as its own "
                            "pattern, or escape the character (\\[) to keep it literal"
                        )
            else:
                walk(f"{where}.{key}", item)

    for name, cap in capabilities.items():
        walk(f"tool.ramparts.capabilities.{name}", cap.options)
    return found


@app.command()
def plugins(app_dir: AppDir = Path(".")) -> None:
    """List installed capability plugins and whether the app lists them."""
    from ramparts.config import load_config
    from ramparts.plugins import installed_plugins

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


# -- build, sign, verify, audit (docs/build.md) --------------------------------------------


def _passphrase(confirm: bool) -> bytes:
    """From RAMPARTS_SIGNING_PASSPHRASE (CI), else asked for on the terminal."""
    import os

    from ramparts.release.signing import ENV_PASSPHRASE

    value = os.environ.get(ENV_PASSPHRASE)
    if value is None:
        if not sys.stdin.isatty():
            raise _fail(f"no passphrase: set {ENV_PASSPHRASE} or run on a terminal")
        value = typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return value.encode()


def _private_key(key_file: Path | None) -> Ed25519PrivateKey | None:
    """``--key FILE``, else RAMPARTS_SIGNING_KEY (a PEM text or a path); None: unsigned."""
    import os

    from ramparts.release.signing import ENV_KEY, load_private_key

    source = str(key_file) if key_file else os.environ.get(ENV_KEY)
    if not source:
        return None
    if source.lstrip().startswith("-----BEGIN"):
        pem, where = source.encode(), f"${ENV_KEY}"
    else:
        try:
            pem, where = Path(source).read_bytes(), source
        except OSError as e:
            raise _fail(f"cannot read the signing key {source}: {e.strerror}") from None
    return load_private_key(pem, _passphrase(confirm=False), where)


def _public_keys(files: list[Path] | None) -> list[Ed25519PublicKey] | None:
    from ramparts.release.signing import load_public_key

    keys = []
    for file in files or []:
        try:
            keys.append(load_public_key(file.read_bytes(), str(file)))
        except OSError as e:
            raise _fail(f"cannot read {file}: {e.strerror}") from None
    return keys if files else None


Artifact = Annotated[
    Path, typer.Argument(help="A built app: the onedir folder or the onefile executable.")
]
PubKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--pubkey", help="Trusted public key (repeatable). Default: the key the manifest names."
    ),
]


@app.command()
def keygen(
    out: Annotated[Path, typer.Option(help="Folder for the key pair.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing key pair.")] = False,
) -> None:
    """Create an Ed25519 signing key pair (the private key encrypted with a passphrase)."""
    from ramparts.release.signing import KEY_FILE, PUB_FILE, generate_key
    from ramparts.toolkit.atomic import atomic_write

    key_path, pub_path = out / KEY_FILE, out / PUB_FILE
    if key_path.exists() and not force:
        raise _fail(
            f"{key_path} exists; pass --force to replace it (old signatures stay valid "
            "only for those who trust the old public key)"
        )
    with _cli_errors():
        private, public = generate_key(_passphrase(confirm=True))
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(key_path, private, mode=0o600)
        atomic_write(pub_path, public)
    typer.echo(f"private key: {key_path} (mode 600, encrypted; keep it secret)")
    typer.echo(f"public key:  {pub_path}")


DebOption = Annotated[
    bool, typer.Option("--deb", help="Also make a Debian package of the app (onedir).")
]
DebCompression = Annotated[
    str,
    typer.Option(metavar="[xz|gzip]", help="How --deb compresses: xz (smaller) or gzip (faster)."),
]


@app.command()
def build(
    app_dir: AppDir = Path("."),
    onefile: Annotated[bool, typer.Option("--onefile", help="One executable.")] = False,
    key: Annotated[
        Path | None, typer.Option(help="Private key to sign with (or $RAMPARTS_SIGNING_KEY).")
    ] = None,
    expires_in: Annotated[float, typer.Option(help="Days the signed manifest stays valid.")] = 365,
    next_pubkey: Annotated[
        Path | None, typer.Option(help="Announce this public key as the next signing key.")
    ] = None,
    chain_from: Annotated[
        Path | None,
        typer.Option(help="Previous release (artifact) whose manifest announced this key."),
    ] = None,
    allow_eval: Annotated[
        bool, typer.Option("--allow-eval", help="Let the built app accept --eval FILE.js.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Output folder [default: APP_DIR/dist].")] = None,
    sign_command: Annotated[
        str | None,
        typer.Option(
            help="OS code-signing command run before hashing, e.g. "
            "'codesign --force --sign ID {executable}'."
        ),
    ] = None,
    deb: DebOption = False,
    deb_compression: DebCompression = "xz",
) -> None:
    """Build a distributable app with PyInstaller, holding only the declared plugins."""
    from ramparts.release.build import Signer
    from ramparts.release.build import build as run_build
    from ramparts.release.signing import chain_to

    with _cli_errors():
        plan = _deb_plan(app_dir, onefile, deb_compression) if deb else None
        private = _private_key(key)
        signer = None
        if private is not None:
            nxt = _public_keys([next_pubkey]) if next_pubkey else None
            chain = chain_to(chain_from, private.public_key()) if chain_from else ()
            signer = Signer(private, nxt[0] if nxt else None, chain)
        elif next_pubkey or chain_from:
            raise _fail("--next-pubkey and --chain-from need a signing key (--key)")
        result = run_build(
            app_dir,
            out=out,
            onefile=onefile,
            signer=signer,
            expires_in_days=expires_in,
            allow_eval=allow_eval,
            sign_command=sign_command,
            say=lambda line: typer.echo(line, err=True),
        )
    _say_built(result)
    if plan is not None:
        _write_deb(plan, result.artifact, cast("Compression", deb_compression))


def _say_built(result: BuildResult) -> None:
    typer.echo(f"built:        {result.artifact}")
    files = f"{result.files} file{'s' if result.files != 1 else ''}"
    typer.echo(f"size:         {result.size / 1e6:.1f} MB in {files}")
    typer.echo(f"capabilities: {', '.join(result.capabilities) or '(none)'}")
    typer.echo(f"excluded:     {', '.join(result.excluded) or '(none)'}")
    signed = f"signed by {result.signer}" if result.signer else "UNSIGNED (no --key)"
    typer.echo(f"manifest:     {signed}; expires {result.expires}")
    typer.echo(f"time:         {result.seconds:.0f} s")


def _deb_plan(app_dir: Path, onefile: bool, compression: str) -> DebPlan:
    """``build --deb``: what the package will be, checked before minutes of work."""
    from ramparts.config import load_config
    from ramparts.release.deb import plan_deb

    if compression not in ("xz", "gzip"):
        raise _fail(f"--deb-compression: {compression!r} is neither xz nor gzip", 2)
    return plan_deb(load_config(app_dir), onefile=onefile)


def _write_deb(plan: DebPlan, artifact: Path, compression: Compression) -> None:
    """``build --deb``: the package of the app just built, beside it."""
    from ramparts.release.deb import write_deb

    with _cli_errors():
        made = write_deb(plan, artifact, artifact.parent, compression=compression, say=_say)
    typer.echo(f"deb:          {made.path}")
    typer.echo(
        f"deb size:     {made.size / 1e6:.1f} MB; installed {made.installed_kib / 1024:.1f} MiB"
    )
    typer.echo(f"depends:      {', '.join(made.depends) or '(none)'}")
    typer.echo(f"deb time:     {made.seconds:.0f} s")


@app.command()
def release(
    artifact: Annotated[Path, typer.Argument(help="A signed onedir build (its folder).")],
    key: Annotated[
        Path | None,
        typer.Option(help="The key the build was signed with (or $RAMPARTS_SIGNING_KEY)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder [default: beside the build, updates/].")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="The archive's URL, absolute or relative to the feed's [default: its name]."
        ),
    ] = None,
    notes: Annotated[str, typer.Option(help="Release notes shown to the user.")] = "",
    notes_file: Annotated[
        Path | None, typer.Option(help="Release notes from a UTF-8 file (instead of --notes).")
    ] = None,
    expires_in: Annotated[float, typer.Option(help="Days the signed feed stays valid.")] = 30,
    compress_level: Annotated[
        int, typer.Option(help="gzip level, 1 (fastest) to 9 (smallest).")
    ] = 6,
) -> None:
    """Turn a signed build into an update archive and a signed update feed."""
    from ramparts.release.updates import make_release

    if notes and notes_file:
        raise _fail("give --notes or --notes-file, not both")
    with _cli_errors():
        text = notes_file.read_text(encoding="utf-8") if notes_file else notes
        private = _private_key(key)
        if private is None:
            raise _fail("no signing key: pass --key or set $RAMPARTS_SIGNING_KEY")
        done = make_release(
            artifact,
            private,
            out or artifact.parent / "updates",
            url=url,
            notes=text,
            expires_in_days=expires_in,
            say=_say,
            level=compress_level,
        )
    typer.echo(f"archive: {done.archive} ({done.size / 1e6:.1f} MB, sha256 {done.sha256})")
    typer.echo(f"feed:    {done.feed}")
    typer.echo(f"version: {done.version}; signed by {done.signer}; expires {done.expires}")
    typer.echo("publish both; serve the feed at the URL the app's updater.endpoint names")


@app.command()
def verify(artifact: Artifact, pubkey: PubKeys = None) -> None:
    """Check a built app offline: signature, expiry and every file's hash.

    Exit 0 only when the files match and a --pubkey key verifies the signer; 1 otherwise,
    including intact files whose signer is not verified (no --pubkey, or unsigned).
    """
    from ramparts.release.signing import key_id, load_manifest, own_key, verify_artifact

    try:
        keys = _public_keys(pubkey)
        if keys is None:
            keys = own_key(load_manifest(artifact))
        manifest = verify_artifact(artifact, keys)
    except (RampartsError, ValueError) as e:
        raise _fail(f"verification FAILED: {e}") from None
    except OSError as e:
        raise _os_fail(e) from None
    files = f"{len(manifest['files'])} files match; expires {manifest['expires']}"
    if pubkey is not None:
        trusted = ", ".join(key_id(k) for k in keys)
        typer.echo(f"OK: {files}; signed by {manifest['signer']} (trusted: {trusted})")
        return
    # Intact files are not a pass on their own: whoever changed them could re-sign them
    # with a key of their own, so the line says which half held and the exit code is 1.
    why = "unsigned build" if not keys else "no --pubkey"
    typer.echo(f"integrity OK, signer NOT verified ({why}): {files}")
    if not keys:
        raise _fail("the build is unsigned: its origin cannot be verified")
    raise _fail(
        f"no --pubkey: the manifest names signer {manifest['signer']}, but only a key you "
        "trust (--pubkey) shows who built it"
    )


@app.command()
def audit(
    artifact: Artifact,
    pubkey: PubKeys = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (format 1).")] = False,
    allow_unverified: Annotated[
        bool,
        typer.Option(
            "--allow-unverified",
            help="Pass without a --pubkey that verifies the signature (the report is then "
            "the artifact's own claim).",
        ),
    ] = False,
) -> None:
    """Report what a built app can reach, without running it.

    Fails on a plugin module the build did not declare and, unless --allow-unverified,
    on a manifest that no --pubkey verifies.
    """
    from ramparts.plugins import installed_plugins
    from ramparts.release.audit import audit as run_audit
    from ramparts.release.audit import render_table

    with _cli_errors():
        installed = {n: p.value for n, p in installed_plugins().items()}
        result = run_audit(
            artifact, _public_keys(pubkey), installed, allow_unverified=allow_unverified
        )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        typer.echo(render_table(result))
    if not result.ok:
        raise typer.Exit(1)


# -- new, add, remove (docs/cli.md; templates in cookiecutter/) ------------------------

new_cli = typer.Typer(
    help="Create an app or a capability plugin from a template.", no_args_is_help=True
)
app.add_typer(new_cli, name="new")
OutputDir = Annotated[
    Path, typer.Option("--output-dir", "-o", help="Where to create the project folder.")
]
NoInput = Annotated[
    bool,
    typer.Option(
        "--no-input",
        help="Use defaults for everything not given (implied when stdin is not a terminal).",
    ),
]


@new_cli.command("app")
def new_app(
    name: Annotated[str, typer.Argument(help="The app's display name, e.g. 'Notes'.")],
    capabilities: Annotated[
        str, typer.Option(help="Comma-separated capabilities to set up narrowly: fs, dialog.")
    ] = "",
    frontend: Annotated[
        str | None,
        typer.Option(
            metavar="[vanilla|vite-ts]",
            help="The UI: plain HTML/JS in ui/ (default), or Vite + TypeScript in frontend/.",
        ),
    ] = None,
    output_dir: OutputDir = Path("."),
    no_input: NoInput = False,
) -> None:
    """Create an app: config, one command, UI, and tests that run it headless."""
    context = {"app_name": name, "capabilities": capabilities.replace(" ", "")}
    if frontend is not None:  # else asked for, or the template's default
        context["frontend"] = frontend
    _new("app", context, output_dir, no_input)


@new_cli.command("plugin")
def new_plugin(
    name: Annotated[str, typer.Argument(help="The capability's name, e.g. 'clipboard'.")],
    output_dir: OutputDir = Path("."),
    no_input: NoInput = False,
) -> None:
    """Create a third-party capability plugin: entry point, a scoped command, docs, tests."""
    _new("plugin", {"capability": name}, output_dir, no_input)


def _new(kind: str, context: dict[str, str], output_dir: Path, no_input: bool) -> None:
    from ramparts.scaffold import new_project, next_steps, not_installed, template_answers

    def ask(question: str, default: str) -> str:
        return str(typer.prompt(question, default=default))

    # Without a terminal nothing can be asked: defaults fill what was not given.
    no_input = no_input or not sys.stdin.isatty()
    with _cli_errors():
        answers = template_answers(kind, context, None if no_input else ask)
        made = new_project(kind, answers, output_dir=output_dir, no_input=True)
    for name in not_installed(kind, answers):
        typer.echo(
            f"note: {name} is not installed here: the project will look for it on your "
            "package index (or say where it is in [tool.uv.sources] and "
            "requirements-local.txt)",
            err=True,
        )
    typer.echo(f"created {made}\nnext: cd {made} && {next_steps(kind, answers)}")


@app.command()
def add(
    capability: Annotated[str, typer.Argument(help="The capability's name, e.g. 'fs'.")],
    app_dir: AppDir = Path("."),
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Install this (a local path or a requirement) instead; a path is recorded "
            "in [tool.uv.sources] and requirements-local.txt.",
        ),
    ] = None,
    install: Annotated[bool, typer.Option(help="Install its distribution if needed.")] = True,
) -> None:
    """Install a capability plugin and declare it, with an empty allow list; list it in
    the app's dependencies, with where it installs from when that is not an index."""
    from ramparts.scaffold import add_capability

    with _cli_errors():
        file = add_capability(
            app_dir, capability, source=source, do_install=install, say=typer.echo
        )
    typer.echo(
        f"next: list the commands the page may call in allow in {file}, then run: "
        f"ramparts check {app_dir}"
    )


@app.command()
def remove(
    capability: Annotated[str, typer.Argument(help="The capability's name.")],
    app_dir: AppDir = Path("."),
    uninstall: Annotated[
        bool | None,
        typer.Option(
            "--uninstall/--keep-installed",
            help="Uninstall its distribution, or keep it (other apps in this environment "
            "may use it). Default: ask; without a terminal, keep it and print how to "
            "uninstall it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Remove a capability's config table and dependency, then maybe uninstall it."""
    from ramparts.scaffold import remove_capability

    def confirm(question: str) -> bool:
        return bool(typer.confirm(question, default=False))

    with _cli_errors():
        remove_capability(
            app_dir,
            capability,
            do_uninstall=uninstall,
            confirm=confirm if sys.stdin.isatty() else None,
            say=typer.echo,
        )


@app.command()
def types(
    app_dir: AppDir = Path("."),
    out: Annotated[
        Path | None, typer.Option(help="Write the .d.ts here [default: stdout].")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="Only what this window may call [default: any window]."),
    ] = None,
) -> None:
    """Write TypeScript declarations of the app's window.ramparts (its allowed commands)."""
    from ramparts.app import App
    from ramparts.toolkit.atomic import atomic_write
    from ramparts.typescript import app_declarations

    with _cli_errors():
        # dev: the types need no built UI (a vite-ts app runs this before its build).
        loaded = App.load(app_dir, dev=True)
        try:
            text = app_declarations(loaded.config, loaded.registry, window)
        except KeyError:
            labels = ", ".join(w.label for w in loaded.config.windows)
            raise _fail(f"no window is labelled {window!r}; the app has: {labels}") from None
        if out is None:
            typer.echo(text, nl=False)
            return
        atomic_write(out, text.encode("utf-8"))
    typer.echo(f"wrote {out} ({len(loaded.registry.routes)} commands)", err=True)


def main() -> None:
    app()
