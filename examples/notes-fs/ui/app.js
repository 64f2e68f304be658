// Notes live in $APPDATA/notes/*.txt: the only files the fs scope lets this page touch.
const $ = (id) => document.getElementById(id);
const DIR = "$APPDATA/notes";

async function refresh() {
  await ramparts.fs.mkdir({ path: DIR });
  const entries = await ramparts.fs.list_dir({ path: DIR });
  const list = $("notes");
  list.replaceChildren();
  for (const entry of entries.filter((e) => e.name.endsWith(".txt"))) {
    const text = await ramparts.fs.read_text({ path: `${DIR}/${entry.name}` });
    const item = document.createElement("li");
    item.textContent = await ramparts.invoke("title", { text });
    list.append(item);
  }
}

$("save").addEventListener("click", async () => {
  const name = `${Date.now()}.txt`;
  await ramparts.fs.write_text({ path: `${DIR}/${name}`, contents: $("text").value });
  $("text").value = "";
  await refresh();
});

refresh();
