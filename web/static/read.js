/* The document reader (/read/...): bring the quoted text into view and give it focus, so a
 * keyboard or screen-reader user starts reading there. Without JavaScript the page still
 * shows the whole document and a "Go to it" link. */
const cited = document.getElementById("cited");
if (cited) {
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  cited.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "instant" });
  cited.focus({ preventScroll: true });
}
