{%- set caps = cookiecutter.__caps.split() -%}
// The page reaches Python only through window.ramparts, and only what pyproject.toml
// allows. Its types are in ramparts.d.ts, which `npm run types` writes from the app's
// commands and config: a call to a command the app does not allow, or with the wrong
// arguments, does not compile.

// A built page links the stylesheet as a file; in dev Vite adds it as a style element
// carrying the nonce that `ramparts dev` gives the page (the CSP refuses any other).
import "./style.css";

/** The element `id` of index.html, checked to be of the expected kind. */
function element<T extends HTMLElement>(id: string, kind: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`index.html has no ${kind.name} #${id}`);
  return found;
}

/**
 * Every call goes through show(): its result, or its refusal (invalid_args,
 * out_of_scope, ...), appears in the page, and no promise is left to reject unhandled.
 */
async function show(
  status: HTMLElement,
  action: () => Promise<string | void>,
  button?: HTMLButtonElement,
): Promise<void> {
  if (button) button.disabled = true;
  try {
    status.textContent = (await action()) ?? "";
    status.classList.remove("error");
  } catch (e) {
    status.textContent = e instanceof ramparts.Error ? `${e.code}: ${e.message}` : String(e);
    status.classList.add("error");
  } finally {
    if (button) button.disabled = false;
  }
}

const greetForm = element("greet-form", HTMLFormElement);
const nameInput = element("name", HTMLInputElement);
const greeting = element("greeting", HTMLParagraphElement);

greetForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const button = ev.submitter instanceof HTMLButtonElement ? ev.submitter : undefined;
  void show(greeting, () => ramparts.invoke("greet", { name: nameInput.value }), button);
});
{%- if "fs" in caps %}

// fs: the scope is $APPDATA/** (see pyproject.toml); anything else is out_of_scope.
const NOTE = "$APPDATA/note.txt";
const note = element("note", HTMLTextAreaElement);
const saveButton = element("save-note", HTMLButtonElement);
const noteStatus = element("note-status", HTMLParagraphElement);

async function loadNote(): Promise<void> {
  if (await ramparts.fs.exists({ path: NOTE })) {
    note.value = await ramparts.fs.read_text({ path: NOTE });
  }
}

async function saveNote(): Promise<string> {
  await ramparts.fs.write_text({ path: NOTE, contents: note.value });
  return "Saved.";
}

saveButton.addEventListener("click", () => void show(noteStatus, saveNote, saveButton));
void show(noteStatus, loadNote);
{%- endif %}
{%- if "dialog" in caps %}

const aboutButton = element("about", HTMLButtonElement);
const aboutStatus = element("about-status", HTMLParagraphElement);

async function about(): Promise<void> {
  await ramparts.dialog.message({
    title: "About",
    text: {{ (cookiecutter.app_name ~ ", made with Ramparts.") | tojson }},
  });
}

aboutButton.addEventListener("click", () => void show(aboutStatus, about, aboutButton));
{%- endif %}
