"""Writes the harness's fixture notebooks: one that must pass and one per failure the harness must catch.

Run with Debian's python: /usr/bin/python3 make_fixtures.py (from this folder).
"""
import nbformat as nbf


def mk(name, cells, displays=None):
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "gonomaly", "display_name": "Go (gonomaly)", "language": "go"}
    nb.metadata["language_info"] = {"name": "go"}
    if displays is not None:
        nb.metadata["gonomaly"] = {"displays": displays}
    nb.cells = [nbf.v4.new_markdown_cell("# " + name)] + [nbf.v4.new_code_cell(c) for c in cells]
    for i, c in enumerate(nb.cells):
        c["id"] = "%s-%d" % (name, i)
    nbf.write(nb, name + ".ipynb")


# Passes: a workspace import, a direct dependency import (needs %noautoget), state carried between cells
# through nb.WorkDir, an HTML table, a PNG, an in-place progress bar and a succeeding shell command.
mk("ok", [
    '%noautoget\nimport "github.com/gonomaly/gonomaly/kernel/nb"\n\n%%\nfmt.Println("quick:", nb.Quick())\n'
    'if err := os.WriteFile(nb.WorkDir("harness")+"/answer.txt", []byte("42"), 0o644); err != nil {\n\tpanic(err)\n}',
    '%%\ndata, err := os.ReadFile(nb.WorkDir("harness") + "/answer.txt")\nif err != nil {\n\tpanic(err)\n}\n'
    'fmt.Println("read back:", string(data))\ngonbui.DisplayHTML("<table><tr><td>a</td></tr></table>")\ngonbui.Sync() // displays still in the pipe are lost when the program exits',
    '%%\nimg := image.NewGray(image.Rect(0, 0, 8, 8))\ngonbui.DisplayImage(img)\nctx := nb.Context()\n'
    'for i := 0; i <= 5; i++ {\n\tmethods.ReportProgress(ctx, methods.Event{Task: "demo", Done: i, Total: 5, Finished: i == 5})\n}',
    '!echo shell ok',
], {"png": 1, "table": 1})
mk("compile_error", ['%%\nfmt.Println("before")', '%%\nx := undefinedThing + 1\nfmt.Println(x)', '%%\nfmt.Println("never")'], {})
mk("panic", ['%%\nfmt.Println("before")', '%%\nvar m map[string]int\nm["x"] = 1', '%%\nfmt.Println("never")'], {})
mk("shell_fail", ['%%\nfmt.Println("before")', '!echo about to fail; false', '%%\nfmt.Println("after")'], {})
mk("exit_code", ['%%\nfmt.Println("before")', '%%\nfmt.Fprintln(os.Stderr, "bad input")\nos.Exit(3)', '%%\nfmt.Println("after")'], {})
mk("missing_display", ['%%\nfmt.Println("no pictures here")'], {"png": 1})
