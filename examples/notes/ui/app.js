// Notes: every file operation goes through ramparts.fs (scope: $APPDATA/notes/*.md) and
// every dialog through ramparts.dialog. Nothing else in Python is reachable.
const $ = (id) => document.getElementById(id);
const DIR = "$APPDATA/notes";
let current = null; // the path of the open note

function show(message, error = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", error);
}

// Errors from Python arrive as {code, message} (out_of_scope, invalid_args, ...), never a
// traceback: one wrapper shows them, and any other, for every action, so no promise is
// left to reject unhandled.
const guard = (fn) => () =>
  fn().catch((e) => show(e instanceof ramparts.Error ? `${e.code}: ${e.message}` : String(e), true));

async function refresh() {
  await ramparts.fs.mkdir({ path: DIR }); // on a first run, Ramparts makes $APPDATA itself
  const entries = await ramparts.fs.list_dir({ path: DIR });
  $("list").replaceChildren(
    ...entries
      .filter((e) => e.kind === "file" && e.name.endsWith(".md"))
      .map((e) => {
        const li = document.createElement("li");
        li.textContent = e.name.slice(0, -3);
        li.dataset.path = `${DIR}/${e.name}`;
        li.classList.toggle("current", li.dataset.path === current);
        li.addEventListener("click", guard(() => openNote(li.dataset.path)));
        return li;
      }),
  );
}

async function openNote(path) {
  const text = await ramparts.fs.read_text({ path });
  const [first, ...rest] = text.split("\n");
  $("title").value = first.replace(/^#\s*/, "");
  $("body").value = rest.join("\n").replace(/^\n/, "");
  current = path;
  await refresh();
}

async function newNote() {
  current = null;
  $("title").value = $("body").value = "";
  $("title").focus();
  await refresh();
}

async function save() {
  const path = await ramparts.invoke("note_path", { title: $("title").value });
  await ramparts.fs.write_text({ path, contents: `# ${$("title").value}\n\n${$("body").value}` });
  if (current && current !== path) {
    await ramparts.fs.remove({ path: current }); // the title changed: so did the file name
  }
  current = path;
  await refresh();
  show(`Saved ${path}`);
}

async function deleteNote() {
  if (!current) return;
  if (!(await ramparts.dialog.confirm({ text: `Delete "${$("title").value}"?` }))) return;
  await ramparts.fs.remove({ path: current });
  current = null;
  $("title").value = $("body").value = "";
  await refresh();
  show("Deleted.");
}

async function importNote() {
  // The picked file joins this window's fs scope, exactly that file, for this session.
  const picked = await ramparts.dialog.open({ filters: [{ name: "Markdown", extensions: ["md", "txt"] }] });
  if (picked === null) return;
  const text = await ramparts.fs.read_text({ path: picked });
  const title = picked.split("/").pop().replace(/\.(md|txt)$/, "");
  $("title").value = title;
  $("body").value = text;
  current = null;
  await save();
}

async function exportNote() {
  const target = await ramparts.dialog.save({ default_name: `${$("title").value || "note"}.md` });
  if (target === null) return;
  await ramparts.fs.write_text({ path: target, contents: `# ${$("title").value}\n\n${$("body").value}` });
  show(`Exported to ${target}`);
}

$("new").addEventListener("click", guard(newNote));
$("save").addEventListener("click", guard(save));
$("delete").addEventListener("click", guard(deleteNote));
$("import").addEventListener("click", guard(importNote));
$("export").addEventListener("click", guard(exportNote));
window.notesReady = guard(refresh)();
