"""The snippet minifier: comments and whitespace go, code, strings and regular expressions stay.
(tests/browser/test_minify_browser.py runs the same cases in Chromium.)"""

import pytest

from ctrack.dni.minify import MinifyError, minify

# (source, minified): what must be kept is kept.
CASES = [
    ("var a = 1; /* note */ var b = 2; // end\n", "var a=1;var b=2;\n"),
    ('x = \'a // b /* c */\' + "d\\" // e";', 'x=\'a // b /* c */\'+"d\\" // e";\n'),
    ("r = /[/]\\/*x/g.test(s) // c", "r=/[/]\\/*x/g.test(s)\n"),
    ("q = a / b / c;", "q=a/b/c;\n"),
    ("return /\\d+/.exec(t)", "return/\\d+/.exec(t)\n"),
    ("typeof x === 'y'", "typeof x==='y'\n"),
    ("a + +b; c - -d; e + ++f; g - --h", "a+ +b;c- -d;e+ ++f;g- --h\n"),
    ("return\n42", "return\n42\n"),
    ("i++\nj", "i++\nj\n"),
    ("f = function () {}\n(g)", "f=function(){}(g)\n"),
    ("var s = `a ${b // c\n} // d`;", "var s=`a ${b // c\n} // d`;\n"),
    ("n = 1.5 + .5 + 1e-3", "n=1.5+.5+1e-3\n"),
    ("if (a) {\n  b();\n}\nelse c()", "if(a){b();}\nelse c()\n"),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_minify_keeps_the_code(source, expected):
    assert minify(source) == expected


@pytest.mark.parametrize("source", ["x = 'open", "/* never closed", "r = /abc\n", "s = `x"])
def test_unterminated_literals_are_refused(source):
    with pytest.raises(MinifyError):
        minify(source)
