// Render every $...$, $$...$$, \(...\), \[...\] and equation environment of the page with the bundled KaTeX.
// Code (pre, code) is left alone, so dollar signs in Python source stay as they are.
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "\\begin{equation}", right: "\\end{equation}", display: true},
      {left: "\\begin{align}", right: "\\end{align}", display: true},
      {left: "$", right: "$", display: false},
      {left: "\\(", right: "\\)", display: false}
    ],
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
    throwOnError: false,
    strict: "ignore"
  });
  document.body.setAttribute("data-math-rendered", "true");
});
