// Run by the headless demo: wait for what the page did on load, and report it.
const result = await window.helloDemo;
return { ...result, lastEvent: JSON.parse(document.body.dataset.lastEvent || "null"), stats: ramparts.stats() };
