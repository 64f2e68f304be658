{%- set caps = cookiecutter.__caps.split() -%}
// The page reaches Python only through window.ramparts, and only what pyproject.toml allows.
// Each call is awaited inside try: a refusal (invalid_args, out_of_scope, ...) shows in the
// page, in red, and no promise is left to reject unhandled.
const $ = (id) => document.getElementById(id);

async function greet(name) {
  $("greeting").classList.remove("error");
  try {
    $("greeting").textContent = await ramparts.invoke("greet", { name });
  } catch (e) {
    $("greeting").textContent = `${e.code}: ${e.message}`;  // e.g. invalid_args
    $("greeting").classList.add("error");
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
  try {
    if (await ramparts.fs.exists({ path: NOTE })) {
      $("note").value = await ramparts.fs.read_text({ path: NOTE });
    }
  } catch (e) {
    $("note-status").textContent = `${e.code}: ${e.message}`;
    $("note-status").classList.add("error");
  }
}

async function saveNote() {
  $("note-status").classList.remove("error");
  try {
    await ramparts.fs.write_text({ path: NOTE, contents: $("note").value });
    $("note-status").textContent = "Saved.";
  } catch (e) {
    $("note-status").textContent = `${e.code}: ${e.message}`;
    $("note-status").classList.add("error");
  }
}

$("save-note").addEventListener("click", saveNote);
loadNote();
{%- endif %}
{%- if "dialog" in caps %}

async function about() {
  try {
    await ramparts.dialog.message({
      title: "About",
      text: {{ (cookiecutter.app_name ~ ", made with Ramparts.") | tojson }},
    });
  } catch (e) {
    $("about-status").textContent = `${e.code}: ${e.message}`;
    $("about-status").classList.add("error");
  }
}

$("about").addEventListener("click", about);
{%- endif %}
