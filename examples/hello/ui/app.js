// The demo page: every call goes through window.ramparts, the only way to Python.
const $ = (id) => document.getElementById(id);

ramparts.events.on("greeting", (payload) => {
  document.body.dataset.lastEvent = JSON.stringify(payload);
});

async function greet(name) {
  const text = await ramparts.invoke("greet", { name });
  $("greeting").textContent = text;
  await ramparts.events.emit("greeted", { name });
  return text;
}

async function demo() {
  const greeting = await greet($("name").value);
  const sum = await ramparts.invoke("add", { a: 2, b: 40 });
  $("sum").textContent = `2 + 40 = ${sum}`;
  const bytes = new TextEncoder().encode("raw bytes, no base64");
  const digest = await ramparts.invoke("checksum", { data: bytes });
  $("checksum").textContent = `sha256 of ${digest.size} bytes: ${digest.sha256.slice(0, 16)}…`;
  let refused;
  try {
    await ramparts.invoke("add", { a: "2", b: 40 });
  } catch (e) {
    refused = `${e.code}: ${e.message}`;
    $("refused").textContent = `refused as expected: ${refused}`;
  }
  return { greeting, sum, digest, refused };
}

$("greet-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  greet($("name").value);
});

window.helloDemo = demo();
