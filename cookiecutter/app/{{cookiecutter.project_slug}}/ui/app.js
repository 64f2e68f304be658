{%- set caps = cookiecutter.__caps.split() -%}
// The page reaches Python only through window.ramparts, and only what pyproject.toml allows.
const $ = (id) => document.getElementById(id);

async function greet(name) {
  try {
    $("greeting").textContent = await ramparts.invoke("greet", { name });
  } catch (e) {
    $("greeting").textContent = `${e.code}: ${e.message}`;  // e.g. invalid_args
  }
}

$("greet-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  greet($("name").value);
});
{%- if "fs" in caps %}

// fs: the scope is $APPDATA/** (see pyproject.toml); anything else is out_of_scope.
const NOTE = "$APPDATA/note.txt";

async function loadNote() {
  if (await ramparts.fs.exists({ path: NOTE })) {
    $("note").value = await ramparts.fs.read_text({ path: NOTE });
  }
}

async function saveNote() {
  await ramparts.fs.mkdir({ path: "$APPDATA" });
  await ramparts.fs.write_text({ path: NOTE, contents: $("note").value });
  $("note-status").textContent = "Saved.";
}

$("save-note").addEventListener("click", () =>
  saveNote().catch((e) => { $("note-status").textContent = `${e.code}: ${e.message}`; }));
loadNote();
{%- endif %}
{%- if "dialog" in caps %}

$("about").addEventListener("click", () =>
  ramparts.dialog.message({ title: "About", text: {{ (cookiecutter.app_name ~ ", made with Ramparts.") | tojson }} }));
{%- endif %}
