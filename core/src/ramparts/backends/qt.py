"""The Qt WebEngine backend (pywebview's ``qt`` GUI)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PyQt6 import QtCore, sip
from PyQt6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QFile,
    QIODevice,
    QMimeData,
    QObject,
    Qt,
    QUrl,
    QUrlQuery,
    pyqtSignal,
)
from PyQt6.QtGui import QClipboard, QDropEvent, QKeyEvent, QKeySequence, QMouseEvent
from PyQt6.QtWebChannel import QWebChannel
from PyQt6.QtWebEngineCore import (
    QWebEngineDesktopMediaRequest,
    QWebEngineFileSystemAccessRequest,
    QWebEngineFullScreenRequest,
    QWebEnginePage,
    QWebEnginePermission,
    QWebEngineProfile,
    QWebEngineScript,
    QWebEngineSettings,
    QWebEngineUrlRequestJob,
    QWebEngineUrlScheme,
    QWebEngineUrlSchemeHandler,
)
from PyQt6.QtWebEngineWidgets import QWebEngineView
from PyQt6.QtWidgets import QApplication, QWidget

from ramparts.backends import Prune, Shipping
from ramparts.backends.chromium import engine_flags, refused_switch
from ramparts.backends.pywebview_windows import PageHooks, PywebviewBackend
from ramparts.backends.qt_clipboard import QtClipboard
from ramparts.backends.qt_dialogs import QtDialogs
from ramparts.backends.qt_eval import start_eval
from ramparts.backends.qt_menu import install_menus
from ramparts.backends.qt_window import QtWindow, apply_spec, watch
from ramparts.bridge.host import IPC_PATH, SCHEME, WindowHost
from ramparts.bridge.protocol import MAX_BINARY_MESSAGE
from ramparts.errors import BackendError

if TYPE_CHECKING:
    from ramparts.bridge.session import WindowSession
    from ramparts.config import AppConfig

__all__ = ["QtBackend"]

log = logging.getLogger("ramparts.qt")
_BOOTSTRAP = "ramparts-bootstrap"
_RELAY = "ramparts-relay"
_registered = False
#: The QApplication Ramparts made to start the web engine (kept alive for the process).
_qapp: QApplication | None = None
#: The open inspector windows (``--devtools``), each until its page goes.
_devtools_views: list[QWebEngineView] = []

_P = QWebEnginePermission.PermissionType
#: The ``web`` names (config.WEB_PERMISSIONS) each engine permission needs, all of them.
#: A type missing here (``Unsupported``, or one a later Qt adds) is always refused.
_PERMISSION_NAMES: dict[QWebEnginePermission.PermissionType, tuple[str, ...]] = {
    _P.MediaAudioCapture: ("microphone",),
    _P.MediaVideoCapture: ("camera",),
    _P.MediaAudioVideoCapture: ("microphone", "camera"),
    _P.DesktopVideoCapture: ("screen-capture",),
    _P.DesktopAudioVideoCapture: ("screen-capture",),
    _P.MouseLock: ("pointer-lock",),
    _P.Notifications: ("notifications",),
    _P.Geolocation: ("geolocation",),
    _P.ClipboardReadWrite: ("clipboard",),
    _P.LocalFontsAccess: ("local-fonts",),
}
_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)


def _qwebchannel_js() -> str:
    f = QFile(":/qtwebchannel/qwebchannel.js")
    if not f.open(QIODevice.OpenModeFlag.ReadOnly):
        raise BackendError("Qt WebChannel's qwebchannel.js resource is missing")
    try:
        return bytes(f.readAll().data()).decode("utf-8")
    finally:
        f.close()


class _Invoker(QObject):
    """Runs callables on the GUI thread, whichever thread asks."""

    run = pyqtSignal(object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.run.connect(self._call)

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("error on the GUI thread")

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the GUI thread, wait for it, and return (or raise) its outcome."""
        if threading.current_thread() is threading.main_thread():
            return fn()
        done = threading.Event()
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((True, fn()))
            except BaseException as e:  # handed back to the calling thread
                outcome.append((False, e))
            finally:
                done.set()

        self.run.emit(run)
        done.wait()
        ok, value = outcome[0]
        if not ok:
            raise value
        return value


class _Outbox(QObject):
    """Carries texts for the page from any thread to the GUI thread.

    Workers emit ``text``; it is connected signal-to-signal to the page's
    ``_Bridge.deliver`` (a queued connection, since the bridge lives on the GUI
    thread), so Qt hands the text over in C++: the GUI thread runs no Python and
    takes no GIL per reply. The outbox belongs to the profile, which outlives the
    page: a worker never emits on a destroyed object, and Qt drops the connection
    (and any queued text) when the bridge goes away.
    """

    text = pyqtSignal(str)


class _Bridge(QObject):
    """The object the isolated-world relay talks to over QWebChannel."""

    deliver = pyqtSignal(str)
    #: Declared only so that QWebChannel accepts ``inbox`` as a property; never emitted.
    inboxChanged = pyqtSignal()

    def __init__(self, page: QWebEnginePage, host: WindowHost) -> None:
        super().__init__(page)
        self._page = page
        self._host = host

    def _read_inbox(self) -> str:
        return ""

    def _write_inbox(self, text: str) -> None:
        # The origin is what the webview says the main frame shows, not what JS claims.
        self._host.channel_message(
            self._page.url().toString(), text, _same_origin_frames(self._page)
        )

    #: The relay sends each message by setting this property rather than calling a
    #: slot: QWebChannel answers every method call with a response message, but not a
    #: property write, so this saves one webview round of IPC and JSON per message.
    inbox = QtCore.pyqtProperty(  # type: ignore[attr-defined]  # missing from PyQt6's stubs
        str, fget=_read_inbox, fset=_write_inbox, notify=inboxChanged
    )


def _same_origin_frames(page: QWebEnginePage | None) -> bool:
    """Does the page hold a child frame that can script its parent?

    ``about:blank``/``about:srcdoc`` frames and frames of the app's own scheme share the
    app's origin and so could call ``parent.ramparts``; the bridge cannot tell such a
    call from the page's own, so it refuses calls while one exists.
    """
    if page is None:
        return False
    stack = list(page.mainFrame().children())
    while stack:
        frame = stack.pop()
        if frame.url().scheme() in ("", "about", SCHEME, "blob"):
            return True
        stack.extend(frame.children())
    return False


class _SchemeHandler(QWebEngineUrlSchemeHandler):
    def __init__(self, host: WindowHost, invoker: _Invoker, parent: QObject) -> None:
        super().__init__(parent)
        self._host = host
        self._invoker = invoker
        self.page: QWebEnginePage | None = None

    def requestStarted(self, job: QWebEngineUrlRequestJob | None) -> None:
        assert job is not None
        try:
            self._start(job)
        except Exception:
            log.exception("scheme handler error")
            job.fail(QWebEngineUrlRequestJob.Error.RequestFailed)

    def _start(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        method = bytes(job.requestMethod().data()).decode("latin-1")
        if url.path() == IPC_PATH:
            if method != "POST":
                job.fail(QWebEngineUrlRequestJob.Error.RequestDenied)
                return
            body = _read_body(job.requestBody(), url)
            if body is None:
                job.fail(QWebEngineUrlRequestJob.Error.RequestDenied)
                return
            frame_url = self.page.url().toString() if self.page is not None else ""
            initiator = job.initiator().toString()
            frames = _same_origin_frames(self.page)

            def reply(status: int, chunks: list[bytes]) -> None:
                self._invoker.run.emit(lambda: _finish(job, status, chunks))

            self._host.binary_message(frame_url, initiator, body, reply, frames)
            return
        resp = self._host.serve(method, url.toString())
        if resp.status != 200:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        job.setAdditionalResponseHeaders(
            {k.encode(): [v.encode()] for k, v in resp.headers.items()}
        )
        _reply(job, resp.mime.encode(), resp.body)


def _read_body(device: QIODevice | None, url: QUrl) -> bytes | None:
    """The request body, or ``None`` if it cannot be read whole.

    Qt WebEngine's request-body device ignores its own offset inside a data element
    (``ResourceRequestBody::readDataElementBytes`` copies from the element's start on
    every call), so a body read in several chunks repeats its first chunk and
    ``readAll()`` never ends. The bootstrap therefore sends the body's length as
    ``?n=`` and the body is read with one call of exactly that size. The length is
    only a read size: the MAC over the body decides whether the message is genuine.
    """
    query = QUrlQuery(url)
    try:
        n = int(query.queryItemValue("n"))
    except ValueError:
        return None
    if not 0 <= n <= MAX_BINARY_MESSAGE:
        return None
    if device is None or n == 0:
        return b"" if n == 0 else None
    device.open(QIODevice.OpenModeFlag.ReadOnly)
    body = device.read(n)
    if body is None or len(body) != n or device.read(1):
        return None
    return bytes(body)


def _reply(job: QWebEngineUrlRequestJob, mime: bytes, data: bytes) -> None:
    buf = QBuffer(job)
    buf.setData(QByteArray(data))
    buf.open(QIODevice.OpenModeFlag.ReadOnly)
    job.reply(mime, buf)


def _finish(job: QWebEngineUrlRequestJob, status: int, chunks: list[bytes]) -> None:
    if sip.isdeleted(job):  # the page went away while the command ran
        return
    if status != 200:
        job.fail(QWebEngineUrlRequestJob.Error.RequestDenied)
        return
    _reply(job, b"application/octet-stream", b"".join(chunks))


class _Page(QWebEnginePage):
    console = pyqtSignal(str, str)  # level ("info", "warning", "error"), line

    def __init__(
        self, profile: QWebEngineProfile, parent: QObject, host: WindowHost, relay_js: str
    ) -> None:
        super().__init__(profile, parent)
        self._host = host
        self._relay_js = relay_js

    def acceptNavigationRequest(self, url: QUrl, kind: Any, main_frame: bool) -> bool:
        if not self._host.allow_navigation(url.toString(), main_frame):
            return False
        if main_frame:
            self._install_scripts()
        return True

    def _install_scripts(self) -> None:
        scripts = self.scripts()
        for name in (_BOOTSTRAP, _RELAY):
            for old in scripts.find(name):
                scripts.remove(old)
        for name, source, world in (
            (_BOOTSTRAP, self._host.bootstrap_script(), QWebEngineScript.ScriptWorldId.MainWorld),
            (
                _RELAY,
                self._host.relay_script(self._relay_js),
                QWebEngineScript.ScriptWorldId.ApplicationWorld,
            ),
        ):
            s = QWebEngineScript()
            s.setName(name)
            s.setSourceCode(source)
            s.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
            s.setWorldId(world)
            s.setRunsOnSubFrames(False)
            scripts.insert(s)

    def createWindow(self, kind: Any) -> None:
        log.warning("blocked a new window (window.open or target=_blank) in %r", self._host.label)
        return None

    def allow_web(self, name: str, origin: str | None = None) -> bool:
        """Ask the host, with the origin and main-frame URL as the engine reports them."""
        url = self.url()
        if origin is None:  # the main frame's, which Qt does not give for choosers and drops
            port = f":{url.port()}" if url.port() != -1 else ""
            origin = f"{url.scheme()}://{url.host()}{port}"
        return self._host.allow_web(name, origin, url.toString(), _same_origin_frames(self))

    def chooseFiles(
        self,
        mode: QWebEnginePage.FileSelectionMode,
        old_files: Iterable[str | None],
        mimes: Iterable[str | None],
    ) -> list[str]:
        """``<input type=file>`` and ``showOpenFilePicker()``: the native chooser opens
        only with ``file-input``.

        Folder uploads (``webkitdirectory``, ``showDirectoryPicker()``) hand the page every
        file under a folder, a wider grant than the one file the user meant, so they are
        always refused; so is ``showSaveFilePicker()``, which would let the page write.
        """
        M = QWebEnginePage.FileSelectionMode
        if mode not in (M.FileSelectOpen, M.FileSelectOpenMultiple):
            log.warning("refused a folder upload or save chooser in %r", self._host.label)
            return []
        if not self.allow_web("file-input"):
            return []
        return list(super().chooseFiles(mode, old_files, mimes))

    def triggerAction(self, action: QWebEnginePage.WebAction, checked: bool = False) -> None:
        """The context menu's Paste: files on the clipboard need ``file-drop``, as a
        paste by key does (:class:`_FileGuard`)."""
        A = QWebEnginePage.WebAction
        pastes = action in (A.Paste, A.PasteAndMatchStyle)
        if pastes and _clipboard_files() and not self.allow_web("file-drop"):
            return
        super().triggerAction(action, checked)

    def answer_permission(self, permission: QWebEnginePermission) -> None:
        names = _PERMISSION_NAMES.get(permission.permissionType(), ())
        origin = permission.origin().toString()
        # Ask for every name (no short cut), so each refusal is logged.
        granted = bool(names) and all([self.allow_web(name, origin) for name in names])
        if granted:
            permission.grant()
        else:
            if not names:
                log.warning("refused the engine permission %r", permission.permissionType())
            permission.deny()

    def answer_desktop_media(self, request: QWebEngineDesktopMediaRequest) -> None:
        """getDisplayMedia's source: the first screen when granted (no picker is shown)."""
        screens = request.screensModel()
        if self.allow_web("screen-capture") and screens is not None and screens.rowCount():
            request.selectScreen(screens.index(0, 0))
        else:
            request.cancel()

    def answer_fullscreen(self, request: QWebEngineFullScreenRequest) -> None:
        if request.toggleOn() and not self.allow_web("fullscreen"):
            request.reject()
            return
        request.accept()
        view = self.parent()
        window = view.window() if isinstance(view, QWidget) else None
        if window is not None:  # the page's fullscreen is the whole window's
            window.showFullScreen() if request.toggleOn() else window.showNormal()

    def answer_file_system_access(self, request: QWebEngineFileSystemAccessRequest) -> None:
        log.warning("refused a File System Access request in %r", self._host.label)
        request.reject()

    def javaScriptConsoleMessage(
        self, level: Any, message: str | None, line: int, source: str | None
    ) -> None:
        self.console.emit(_LEVELS.get(level, "info"), f"{message} ({source}:{line})")


_Level = QWebEnginePage.JavaScriptConsoleMessageLevel
#: Uncaught exceptions come through as error-level console messages.
_LEVELS = {_Level.WarningMessageLevel: "warning", _Level.ErrorMessageLevel: "error"}


def _holds_files(data: QMimeData | None) -> bool:
    return data is not None and any(u.isLocalFile() for u in data.urls())


def _clipboard_files(mode: QClipboard.Mode = QClipboard.Mode.Clipboard) -> bool:
    """Does the clipboard hold files (copied in a file manager, say)? Chromium hands
    them to the page's ``paste`` handler as ``clipboardData.files``."""
    clipboard = QApplication.clipboard()
    return clipboard is not None and _holds_files(clipboard.mimeData(mode))


class _ViewFilter(QObject):
    """An event filter on a view and on every widget added under it (Qt WebEngine's
    input widget is created, and may be replaced, after the view exists), since a drag
    goes to the widget under the pointer first and keys to the focused one."""

    def __init__(self, view: QWidget, page: _Page) -> None:
        super().__init__(view)
        self._page = page
        self.watch(view)

    def watch(self, widget: QObject) -> None:
        widget.installEventFilter(self)
        for child in widget.findChildren(QWidget):
            child.installEventFilter(self)

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is None:
            return False
        if event.type() == QEvent.Type.ChildAdded and obj is not None:
            child = event.child()  # type: ignore[attr-defined]  # a QChildEvent
            if isinstance(child, QWidget):
                self.watch(child)
            return False
        return self.take(event)

    def take(self, event: QEvent) -> bool:
        """Handle ``event`` here (``True``: the view never gets it)."""
        return False


class _ReloadKeys(_ViewFilter):
    """F5 and Ctrl+R (Cmd+R on macOS) reload the page (``ramparts dev`` only)."""

    def take(self, event: QEvent) -> bool:
        if not isinstance(event, QKeyEvent) or event.type() != QEvent.Type.KeyPress:
            return False
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        no_mods = mods == Qt.KeyboardModifier.NoModifier
        if not (key == Qt.Key.Key_F5 and no_mods) and not (
            key == Qt.Key.Key_R and mods == Qt.KeyboardModifier.ControlModifier
        ):
            return False
        if not event.isAutoRepeat():  # a held key reloads once
            self._page.triggerAction(QWebEnginePage.WebAction.ReloadAndBypassCache)
        return True


class _FileGuard(_ViewFilter):
    """Keeps files dropped on the window, or pasted into it, from the page unless the
    window's config grants ``file-drop``. Text and links drop and paste as ever."""

    def take(self, event: QEvent) -> bool:
        if not self._brings_files(event) or self._page.allow_web("file-drop"):
            return False
        # Ignored at its entry, a real drag is not offered to this widget again.
        event.ignore()
        return True

    @staticmethod
    def _brings_files(event: QEvent) -> bool:
        if event.type() in _DRAG_EVENTS and isinstance(event, QDropEvent):
            return _holds_files(event.mimeData())
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            return event.matches(QKeySequence.StandardKey.Paste) and _clipboard_files()
        if isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.MiddleButton:
            # X11's middle-click paste, from the selection.
            return _clipboard_files(QClipboard.Mode.Selection)
        return False


class QtBackend(PywebviewBackend):
    """The Qt WebEngine backend: :class:`ramparts.backends.Backend` on pywebview's ``qt``."""

    name = "qt"
    gui = "qt"
    renderer = "qtwebengine"
    engine = "Qt WebEngine"
    #: pywebview imports its GUI module by name, and :func:`ramparts.backends.get_backend`
    #: this one: PyInstaller sees neither import. What PyInstaller's PyQt6 hooks collect
    #: beyond what a QWebEngineView needs is left out (docs/build.md, "Size").
    shipping = Shipping(
        hidden_imports=(__name__, "webview.platforms.qt"),
        prune=(
            Prune(
                "gtk",
                "PyGObject and GTK, which pywebview may import: a Qt app runs Qt WebEngine",
                modules=("gi",),
            ),
            Prune(
                "qt-quick",
                "Qt Quick, QML and the modules their plugins bring (Quick 3D, Quick "
                "Controls, Multimedia, ...): the window is a Qt Widgets view. The Qt "
                "libraries Qt WebEngine links (Quick, Qml) still ship",
                modules=(
                    "PyQt6.QtQml",
                    "PyQt6.QtQuick",
                    "PyQt6.QtQuickWidgets",
                    "PyQt6.QtOpenGL",
                    "PyQt6.QtOpenGLWidgets",
                    "PyQt6.QtDBus",
                ),
            ),
            Prune(
                "devtools",
                "the DevTools front end: a built app opens no inspector (only `ramparts "
                "dev --devtools` does)",
                paths=("PyQt6/Qt6/resources/qtwebengine_devtools_resources.pak",),
            ),
            Prune(
                "chromium-locales",
                "Chromium's own strings (context menu, form validation, error pages) in "
                "other languages; en-US, the fallback for every locale, stays",
                paths=("PyQt6/Qt6/translations/qtwebengine_locales/*.pak",),
                spare=("PyQt6/Qt6/translations/qtwebengine_locales/en-US.pak",),
            ),
            Prune(
                "qt-translations",
                "Qt's own translations: Ramparts installs no QTranslator, so Qt never reads them",
                paths=("PyQt6/Qt6/translations/*.qm",),
            ),
            Prune(
                "gtk-theme-libraries",
                "the GTK stack Qt's GTK theme plugin links (and nothing else does): the "
                "plugin stays and loads the desktop's own GTK; without one, Qt's own look "
                "is used",
                paths=(
                    "libXcursor.so.*",
                    "libXi.so.*",
                    "libXinerama.so.*",
                    "libatk-1.0.so.*",
                    "libatk-bridge-2.0.so.*",
                    "libatspi.so.*",
                    "libblkid.so.*",
                    "libcairo-gobject.so.*",
                    "libcairo.so.*",
                    "libdatrie.so.*",
                    "libepoxy.so.*",
                    "libfribidi.so.*",
                    "libgdk-3.so.*",
                    "libgdk_pixbuf-2.0.so.*",
                    "libgio-2.0.so.*",
                    "libgmodule-2.0.so.*",
                    "libgobject-2.0.so.*",
                    "libgraphite2.so.*",
                    "libgtk-3.so.*",
                    "libharfbuzz.so.*",
                    "libjpeg.so.*",
                    "libmount.so.*",
                    "libpango-1.0.so.*",
                    "libpangocairo-1.0.so.*",
                    "libpangoft2-1.0.so.*",
                    "libpixman-1.so.*",
                    "libselinux.so.*",
                    "libthai.so.*",
                ),
                system=True,
            ),
            Prune(
                "printing",
                "CUPS printing and what only it links: Ramparts answers no print request, "
                "so window.print() prints nothing with or without it",
                paths=(
                    "PyQt6/Qt6/plugins/printsupport/*",
                    "libavahi-client.so.*",
                    "libavahi-common.so.*",
                    "libcups.so.*",
                    "libgmp.so.*",
                    "libgnutls.so.*",
                    "libhogweed.so.*",
                    "libidn2.so.*",
                    "libnettle.so.*",
                    "libp11-kit.so.*",
                    "libtasn1.so.*",
                    "libunistring.so.*",
                ),
            ),
            Prune(
                "qt-plugins",
                "Qt plugins for embedded screens (EGLFS, linuxfb, VNC, evdev input), "
                "network reachability and PDF images; the X11, Wayland and offscreen "
                "platforms, input methods, themes, image formats, TLS and "
                "positioning stay",
                paths=(
                    "PyQt6/Qt6/plugins/platforms/libqeglfs.so",
                    "PyQt6/Qt6/plugins/platforms/libqlinuxfb.so",
                    "PyQt6/Qt6/plugins/platforms/libqminimal.so",
                    "PyQt6/Qt6/plugins/platforms/libqminimalegl.so",
                    "PyQt6/Qt6/plugins/platforms/libqvkkhrdisplay.so",
                    "PyQt6/Qt6/plugins/platforms/libqvnc.so",
                    "PyQt6/Qt6/plugins/egldeviceintegrations/*",
                    "PyQt6/Qt6/plugins/generic/*",
                    "PyQt6/Qt6/plugins/networkinformation/*",
                    "PyQt6/Qt6/plugins/imageformats/libqpdf.so",
                    "PyQt6/Qt6/lib/libQt6Pdf.so.6",
                    "PyQt6/Qt6/lib/libQt6EglFSDeviceIntegration.so.6",
                ),
            ),
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        #: Runs callables on the GUI thread; made by the first ``attach`` (GUI thread).
        self._gui: _Invoker | None = None

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread after the calls already queued there.

        From another thread, ``fn`` is queued (Qt runs the calls queued to one thread in
        the order they were posted); on the GUI thread it runs at once.
        """
        if self._gui is None:
            raise BackendError("no window is attached yet")
        self._gui.run.emit(fn)

    def prepare(self, *, headless: bool, config: AppConfig) -> None:
        _prepare_environment(headless, config)
        _register_scheme()

    def reload_window(self, host: WindowHost) -> None:
        window = host.native
        if window is None or self._gui is None:  # no page attached yet: nothing to reload
            return

        def reload() -> None:
            browser = getattr(window, "native", None)  # pywebview's BrowserView
            view = getattr(browser, "webview", None)
            if view is None or sip.isdeleted(view):  # the window has closed
                return
            page = view.page()
            if isinstance(page, _Page):  # pywebview's own page has no bridge: leave it
                page.triggerAction(QWebEnginePage.WebAction.ReloadAndBypassCache)

        self.call_soon(reload)

    def dialogs(self, host: WindowHost, session: WindowSession) -> QtDialogs | None:
        return QtDialogs(host, session) if host.native is not None else None

    def clipboard(self, host: WindowHost) -> QtClipboard | None:
        return QtClipboard(host) if host.native is not None else None

    def _native_window(self, host: WindowHost) -> QtWindow:
        return QtWindow(host)

    def _engine_ready(self) -> None:
        self.start_engine()

    def start_engine(self) -> None:
        """Start Qt WebEngine now, with the Chromium switches in effect at this moment.

        The engine reads ``QTWEBENGINE_CHROMIUM_FLAGS`` once, when its first profile is
        made. pywebview appends ``--use-fake-ui-for-media-stream`` (which approves every
        camera, microphone and screen request without asking anyone) as it builds each
        window, before that window's profile: started here first, after Ramparts has
        cleaned the switches and before pywebview builds a window, the engine never
        sees it. pywebview then reuses this QApplication. Idempotent.
        """
        global _qapp
        if QApplication.instance() is None:
            _qapp = QApplication(sys.argv)
        QWebEngineProfile.defaultProfile()

    def _attacher(self, host: WindowHost, hooks: PageHooks) -> Callable[[Any], None]:
        """``before_show`` for ``host``'s window: attach the page once, whoever calls first."""
        attached = False
        attach_lock = threading.Lock()

        def before_show(window: Any) -> None:  # pywebview passes it by this name
            nonlocal attached
            with attach_lock:  # exactly once: see the catch-up in ``_create_window``
                if attached:
                    return
                attached = True
            page = self.attach(window, host)
            browser = window.native
            install_menus(browser, browser.webview, page, hooks.menus, hooks.devtools is not None)
            if hooks.spec is not None:
                apply_spec(host, page, hooks.spec)
            if hooks.events is not None:
                watch(host, hooks.events)
            if hooks.console is not None:
                page.console.connect(hooks.console)
            if hooks.loaded is not None:
                _report_loads(page, hooks.loaded)
            if hooks.reload_keys:
                _ReloadKeys(window.native.webview, page)
            if hooks.devtools is not None:
                _open_devtools(page, host.label, hooks.devtools)
            pending = self._evals.pop(host, None)
            if pending is not None:
                start_eval(window, page, *pending)

        return before_show

    def attach(self, window: Any, host: WindowHost) -> _Page:
        view = window.native.webview
        profile = _window_profile(host)
        if self._gui is None:
            qapp = QApplication.instance()
            assert qapp is not None
            self._gui = _Invoker(qapp)
        invoker = _Invoker(profile)
        handler = _SchemeHandler(host, invoker, profile)
        profile.installUrlSchemeHandler(SCHEME.encode(), handler)

        old = view.page()
        old.loadFinished.disconnect()  # pywebview would inject its own js_api bridge
        page = _Page(profile, view, host, _qwebchannel_js())
        handler.page = page
        channel = QWebChannel(page)
        bridge = _Bridge(page, host)
        channel.registerObject(host.relay_names["object"], bridge)
        # The channel lives in an isolated world: page scripts never see `qt`.
        page.setWebChannel(channel, QWebEngineScript.ScriptWorldId.ApplicationWorld)
        outbox = _Outbox(profile)
        outbox.text.connect(bridge.deliver)
        host.connect(outbox.text.emit)
        host._ui_caller = invoker.call
        page.urlChanged.connect(lambda url: host.main_frame_changed(url.toString()))
        _answer_engine_requests(page)
        view.setPage(page)
        _FileGuard(view, page)
        old.deleteLater()
        # pywebview's page keeps a parentless helper page (for new-window requests) in
        # pywebview's own profile; left to Python's teardown it can outlive that profile
        # at exit, which Qt reports as "Release of profile requested but WebEnginePage
        # still not deleted" and may crash on.
        helper = getattr(old, "nav_handler", None)
        if helper is not None:
            helper.deleteLater()
        page.setUrl(QUrl(host.start_url))
        return page


def _report_loads(page: _Page, loaded: Callable[[str], None]) -> None:
    """Call ``loaded`` with the page's URL each time a load has finished (not a failed one)."""

    def finished(ok: bool) -> None:
        if ok:
            loaded(page.url().toString())

    page.loadFinished.connect(finished)


def _open_devtools(page: _Page, label: str, loaded: Callable[[str], None]) -> None:
    """The engine's inspector for ``page`` in a top-level window (``ramparts dev`` only).

    ``setDevToolsPage`` connects the two pages inside this process: no remote-debugging
    port is opened, so nothing else on the machine can reach the inspector. It gets an
    off-the-record profile of its own, owned by the application so that it outlives
    the pages.
    """
    profile = QWebEngineProfile(QApplication.instance())
    view = QWebEngineView()
    inspector = QWebEnginePage(profile, view)
    view.setPage(inspector)
    view.setWindowTitle(f"DevTools: {label}")
    view.resize(900, 700)
    reported = False

    def report(ok: bool) -> None:
        nonlocal reported
        if ok and not reported:  # the inspector's frontend has loaded
            reported = True
            loaded(inspector.url().toString())

    inspector.loadFinished.connect(report)
    page.setDevToolsPage(inspector)
    _devtools_views.append(view)  # a top-level widget is kept alive by a reference

    def page_gone() -> None:
        # At once, not deleteLater: at exit the loop has stopped, and an inspector page
        # left alive past its profile is the "Release of profile requested" crash.
        if view in _devtools_views:
            _devtools_views.remove(view)
            if not sip.isdeleted(view):
                sip.delete(view)

    page.destroyed.connect(page_gone)
    qapp = QApplication.instance()
    if qapp is not None:
        qapp.aboutToQuit.connect(page_gone)
    view.show()


def _register_scheme() -> None:
    """Register ``app`` with the engine: before the QApplication exists, once."""
    global _registered
    if _registered:
        return
    scheme = QWebEngineUrlScheme(SCHEME.encode())
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    # Secure (so crypto.subtle works) and fetch-able; not CORS-enabled, so no other
    # origin can read from it; not local, so it cannot reach file: URLs.
    scheme.setFlags(
        QWebEngineUrlScheme.Flag.SecureScheme | QWebEngineUrlScheme.Flag.FetchApiAllowed
    )
    QWebEngineUrlScheme.registerScheme(scheme)
    _registered = True


def _prepare_environment(headless: bool, config: AppConfig) -> None:
    """Qt's and Chromium's environment, set before either reads it."""
    no_screen = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if headless or no_screen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if os.name == "posix" and os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    # No debugging port, no approving switch (see ``engine_flags``). Qt takes a port from
    # this variable, from the switches in QTWEBENGINE_CHROMIUM_FLAGS, and from the
    # QApplication's arguments (pywebview passes sys.argv: think of a file name given to
    # the app). pywebview adds an approving switch per window later, which
    # ``QtBackend.start_engine`` keeps from taking effect.
    os.environ.pop("QTWEBENGINE_REMOTE_DEBUGGING", None)
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    grants = {p for w in config.windows for p in w.web}
    flags = engine_flags(flags, config.security.csp, grants)
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
    # Chromium writes the TLS secrets of the page's connections to this file; the
    # environment must not decide who can read the page's traffic.
    os.environ.pop("SSLKEYLOGFILE", None)
    sys.argv[1:] = [a for a in sys.argv[1:] if not refused_switch(a)]


def _window_profile(host: WindowHost) -> QWebEngineProfile:
    """An off-the-record profile for one window, with the engine's powers turned down.

    Owned by the application so that it outlives the page (Qt warns, and may crash,
    when a profile dies before its pages).
    """
    profile = QWebEngineProfile(QApplication.instance())
    # Every permission is asked again each time: nothing granted outlives the request.
    profile.setPersistentPermissionsPolicy(
        QWebEngineProfile.PersistentPermissionsPolicy.AskEveryTime
    )
    s = profile.settings()
    assert s is not None
    A = QWebEngineSettings.WebAttribute
    for attr, on in (
        (A.LocalContentCanAccessFileUrls, False),
        (A.LocalContentCanAccessRemoteUrls, False),
        (A.JavascriptCanOpenWindows, False),
        (A.JavascriptCanAccessClipboard, False),
        (A.JavascriptCanPaste, False),
        (A.AllowWindowActivationFromJavaScript, False),
        (A.PluginsEnabled, False),
        (A.PdfViewerEnabled, False),
        (A.NavigateOnDropEnabled, False),
        (A.FullScreenSupportEnabled, "fullscreen" in host.web),
        (A.ScreenCaptureEnabled, "screen-capture" in host.web),
    ):
        s.setAttribute(attr, on)
    return profile


def _answer_engine_requests(page: _Page) -> None:
    """Every request the engine raises for the page gets an answer from the host's policy
    (an unanswered one would stay pending, or take the engine's own default)."""
    page.permissionRequested.connect(page.answer_permission)
    page.desktopMediaRequested.connect(page.answer_desktop_media)
    page.fullScreenRequested.connect(page.answer_fullscreen)
    page.fileSystemAccessRequested.connect(page.answer_file_system_access)
    page.registerProtocolHandlerRequested.connect(lambda request: request.reject())
