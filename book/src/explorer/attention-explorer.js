// The attention explorer: pick a prompt, then a token of it, and see where
// that token looks in every head of the model that read the prompt.
//
// The data is `window.SHORTMEM_ATTENTION`, set by figures/ch02/attention-data.js
// (written by `cargo run --release --bin ch02`, the same data as attention.json):
//   models:  { id: { layers, heads, about } }
//   prompts: [{ title, model, note, tokens, answers, weights }], where
//            weights[layer][head][query] holds the query's weights on keys 0..query
//            and answers[query] is the earlier position holding the right next
//            token, or null.
// Plain script, no library: it builds the page's controls inside
// #attn-explorer (not #attention-explorer, the id mdBook gives the title) and
// hides the static figures it replaces. The URL
// fragment `#prompt=P&token=T` (P from 1, T a position from 0) chooses what is
// shown, so a link (or a screenshot) can open the page at one token.
(function () {
    "use strict";

    var data = window.SHORTMEM_ATTENTION;
    var root = document.getElementById("attn-explorer");
    if (!root || !data || !data.prompts || !data.prompts.length) {
        return; // the static figures stay
    }

    // The figures' colour scale (src/plot.rs, heat_color): pale yellow for
    // weight 0, through orange and red, to dark purple for 1.
    var STOPS = [
        [0.0, [255, 252, 230]],
        [0.35, [253, 174, 97]],
        [0.7, [215, 48, 39]],
        [1.0, [70, 10, 90]]
    ];

    /** The colour of weight `t` in [0, 1], as a CSS rgb() string. */
    function heat(t) {
        t = Math.min(1, Math.max(0, t));
        var k = 0;
        while (k < STOPS.length - 2 && t > STOPS[k + 1][0]) {
            k++;
        }
        var a = STOPS[k], b = STOPS[k + 1];
        var u = (t - a[0]) / (b[0] - a[0]);
        var mix = function (i) {
            return Math.round(a[1][i] + u * (b[1][i] - a[1][i]));
        };
        return "rgb(" + mix(0) + "," + mix(1) + "," + mix(2) + ")";
    }

    /** An element with a class and, optionally, its text. */
    function el(tag, cls, text) {
        var e = document.createElement(tag);
        if (cls) {
            e.className = cls;
        }
        if (text !== undefined) {
            e.textContent = text;
        }
        return e;
    }

    /** The prompt and token the URL fragment asks for, or null. */
    function fromFragment() {
        var m = /prompt=(\d+)(?:&token=(\d+))?/.exec(window.location.hash);
        if (!m) {
            return null;
        }
        return { prompt: parseInt(m[1], 10) - 1, token: m[2] === undefined ? null : parseInt(m[2], 10) };
    }

    // The weight from which a head counts as looking at the right token.
    var LOOKS = 0.1;

    var state = { prompt: 0, token: 0 };
    var tokenButtons = [];

    // The fixed part of the page: the prompt picker, the note, the strip of
    // tokens, the readout, the key of the colours, and the grid of heads.
    var controls = el("div", "attn-controls");
    var label = el("label", "attn-label", "Prompt ");
    var select = el("select", "attn-select");
    select.id = "attn-prompt";
    label.htmlFor = select.id;
    data.prompts.forEach(function (p, i) {
        var option = el("option", null, (i + 1) + ". " + p.title);
        option.value = String(i);
        select.appendChild(option);
    });
    controls.appendChild(label);
    controls.appendChild(select);
    var about = el("p", "attn-about");
    var note = el("p", "attn-note");
    var stripLabel = el("p", "attn-help",
        "Point at a token, tap it, or move along with the arrow keys: every head below shows where it looks.");
    var strip = el("div", "attn-strip");
    strip.setAttribute("role", "group");
    strip.setAttribute("aria-label", "the prompt's tokens");
    var readout = el("p", "attn-readout");
    readout.setAttribute("aria-live", "polite");
    var key = el("div", "attn-key");
    key.innerHTML =
        '<span>weight 0</span><span class="attn-scale" aria-hidden="true"></span><span>1</span>' +
        '<span class="attn-key-item"><span class="attn-swatch attn-query" aria-hidden="true"></span>the token chosen</span>' +
        '<span class="attn-key-item attn-needs-answer"><span class="attn-swatch attn-answer" aria-hidden="true"></span>the right earlier token</span>' +
        '<span class="attn-key-item"><span class="attn-swatch attn-future" aria-hidden="true"></span>not yet read (masked)</span>';
    key.querySelector(".attn-scale").style.background =
        "linear-gradient(to right," + [0, 0.175, 0.35, 0.525, 0.7, 0.85, 1].map(heat).join(",") + ")";
    var grid = el("div", "attn-grid");
    [controls, about, note, stripLabel, strip, readout, key, grid].forEach(function (e) {
        root.appendChild(e);
    });

    /** A token as the page shows it: the JSON's display string. */
    function shown(p, i) {
        return p.tokens[i];
    }

    /** Builds the strip and the empty panels for the prompt `state.prompt`. */
    function buildPrompt() {
        var p = data.prompts[state.prompt];
        var model = data.models[p.model] || {};
        select.value = String(state.prompt);
        about.textContent = "Read by " + (model.about || p.model) + ".";
        note.textContent = p.note;
        var hasAnswers = p.answers.some(function (a) { return a !== null; });
        key.classList.toggle("attn-no-answers", !hasAnswers);
        strip.textContent = "";
        tokenButtons = p.tokens.map(function (t, i) {
            var b = el("button", "attn-tok", shown(p, i));
            b.type = "button";
            b.dataset.pos = String(i);
            b.setAttribute("aria-label", "position " + i + ": " + t +
                (p.answers[i] !== null ? " (its next token was seen before)" : ""));
            if (p.answers[i] !== null) {
                b.classList.add("attn-asks");
            }
            b.addEventListener("mouseenter", function () { choose(i, false); });
            b.addEventListener("focus", function () { choose(i, false); });
            b.addEventListener("click", function () { choose(i, false); });
            b.addEventListener("keydown", onKey);
            strip.appendChild(b);
            return b;
        });
        grid.textContent = "";
        p.weights.forEach(function (heads, l) {
            var layer = el("section", "attn-layer");
            layer.appendChild(el("h3", "attn-layer-title", "Layer " + (l + 1)));
            var row = el("div", "attn-heads");
            heads.forEach(function (_, h) {
                var panel = el("div", "attn-panel");
                panel.dataset.layer = String(l);
                panel.dataset.head = String(h);
                panel.appendChild(el("div", "attn-panel-title", "head " + (h + 1)));
                panel.appendChild(el("div", "attn-panel-stat"));
                var cells = el("div", "attn-cells");
                cells.setAttribute("aria-hidden", "true");
                p.tokens.forEach(function (t, i) {
                    cells.appendChild(el("span", "attn-cell", shown(p, i)));
                });
                panel.appendChild(cells);
                row.appendChild(panel);
            });
            layer.appendChild(row);
            grid.appendChild(layer);
        });
    }

    /** Arrow keys, Home and End move the choice along the strip. */
    function onKey(ev) {
        var i = parseInt(ev.currentTarget.dataset.pos, 10);
        var n = tokenButtons.length;
        var to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: n - 1 }[ev.key];
        if (to === undefined) {
            return;
        }
        // Not the book's own arrow keys (previous and next page).
        ev.preventDefault();
        ev.stopPropagation();
        tokenButtons[Math.min(n - 1, Math.max(0, to))].focus();
    }

    /** Shades every panel for query `q`, and writes the URL fragment. */
    function choose(q, fromUrl) {
        var p = data.prompts[state.prompt];
        q = Math.min(p.tokens.length - 1, Math.max(0, q));
        state.token = q;
        var answer = p.answers[q];
        tokenButtons.forEach(function (b, i) {
            b.classList.toggle("attn-chosen", i === q);
            b.classList.toggle("attn-is-answer", i === answer);
            b.setAttribute("aria-pressed", i === q ? "true" : "false");
        });
        var best = null;
        grid.querySelectorAll(".attn-panel").forEach(function (panel) {
            var l = +panel.dataset.layer, h = +panel.dataset.head;
            var row = p.weights[l][h][q];
            var top = 0;
            panel.querySelectorAll(".attn-cell").forEach(function (cell, j) {
                var w = j <= q ? row[j] : null;
                cell.classList.toggle("attn-future", w === null);
                cell.classList.toggle("attn-query", j === q);
                cell.classList.toggle("attn-answer", j === answer);
                cell.classList.toggle("attn-dark", w !== null && w > 0.55);
                cell.style.background = w === null ? "" : heat(w);
                cell.title = w === null ? "" : "position " + j + ": " + w.toFixed(3);
                if (w !== null && w > row[top]) {
                    top = j;
                }
            });
            var stat = "most on " + JSON.stringify(shown(p, top)) + " at " + top + " (" + row[top].toFixed(2) + ")";
            if (answer !== null) {
                stat += "; on the right token " + row[answer].toFixed(2);
                if (best === null || row[answer] > best.w) {
                    best = { l: l, h: h, w: row[answer] };
                }
            }
            panel.querySelector(".attn-panel-stat").textContent = stat;
            panel.classList.remove("attn-best");
        });
        var text = "Position " + q + ", " + JSON.stringify(shown(p, q)) + ", predicts the next token" +
            (q + 1 < p.tokens.length ? " (" + JSON.stringify(shown(p, q + 1)) + ")" : "") + ".";
        if (answer !== null) {
            text += " The right earlier token is at position " + answer + ", " + JSON.stringify(shown(p, answer));
            var where = "layer " + (best.l + 1) + ", head " + (best.h + 1);
            if (best.w >= LOOKS) {
                text += "; the head that looks at it most is " + where + " (" + best.w.toFixed(2) + ").";
                grid.querySelector('.attn-panel[data-layer="' + best.l + '"][data-head="' + best.h + '"]')
                    .classList.add("attn-best");
            } else {
                text += "; no head gives it much weight (at most " + best.w.toFixed(2) + ", " + where + ").";
            }
        }
        readout.textContent = text;
        if (!fromUrl && window.history && window.history.replaceState) {
            window.history.replaceState(null, "", "#prompt=" + (state.prompt + 1) + "&token=" + q);
        }
    }

    /** Shows prompt `i` at token `q` (its first marked token if null). */
    function show(i, q, fromUrl) {
        state.prompt = Math.min(data.prompts.length - 1, Math.max(0, i));
        buildPrompt();
        var p = data.prompts[state.prompt];
        if (q === null) {
            var first = p.answers.findIndex(function (a) { return a !== null; });
            q = first >= 0 ? first : p.tokens.length - 1;
        }
        choose(q, fromUrl);
    }

    select.addEventListener("change", function () {
        show(parseInt(select.value, 10), null, false);
    });
    window.addEventListener("hashchange", function () {
        var f = fromFragment();
        if (f) {
            show(f.prompt, f.token, true);
        }
    });

    var f = fromFragment();
    show(f ? f.prompt : 0, f ? f.token : null, true);
    root.hidden = false;
    document.querySelectorAll(".attn-static").forEach(function (e) {
        e.hidden = true;
    });
})();
