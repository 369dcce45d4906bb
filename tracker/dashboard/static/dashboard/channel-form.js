// The channel form shows only the fields the chosen kind uses. Every field is in the HTML,
// so without this script the form still works; the server ignores the fields a kind does not use.
const form = document.querySelector("form[data-channel-form]");
const kind = form?.querySelector("select[name=kind]");
if (form && kind) {
  const fields = [...form.querySelectorAll("[data-kinds]")];
  const show = () => {
    for (const field of fields) {
      field.hidden = !field.dataset.kinds.split(" ").includes(kind.value);
    }
  };
  for (const help of form.querySelectorAll(".no-js-only")) help.hidden = true;
  kind.addEventListener("change", show);
  show();
}
