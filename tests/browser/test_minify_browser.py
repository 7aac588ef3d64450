"""The snippet minifier against Chromium's JavaScript engine: each program gives the same
result minified as written (ctrack.js itself runs minified in every DNI browser test)."""

import pytest

from ctrack.dni.minify import minify
from tests.browser.chromium import chromium

pytestmark = pytest.mark.browser

PROGRAMS = [
    "var a = 1; /* c */ var b = 2; // e\nreturn [a, b];",
    'var x = \'a // b /* c */\' + "d\\" // e"; return x;',
    "var s = 'a/b'; return [/[/]\\/*b/.test('/b'), /a\\/b/.test(s), s.split(/\\//).length];",
    "var a = 8, b = 2, c = 2; return a / b / c;",
    "return\n42",
    "var i = 1, j = 5; i++\nj; return [i, j];",
    "var a = 1, b = 2; return [a + +b, a - -b, a + ++b, a - --b];",
    "var b = 1; var s = `a ${b // c\n} // d`; return s;",
    "return [1.5 + .5 + 1e-3, typeof 'x' === 'string', void 0 === undefined];",
    "var r = 0; if (r) {\n  r = 1;\n}\nelse r = 2;\nvar f = function () { return 3 }\nreturn [r, f()];",
    "var t = 'x'.replace(/x/g, function () { return '/*' })\nreturn t + '*/';",
]


async def test_minified_programs_run_the_same():
    async with chromium() as browser:
        page = await browser.new_page()
        for program in PROGRAMS:
            minified = minify(program)
            assert len(minified) <= len(program) + 1
            run = "src => JSON.stringify(new Function(src)())"
            assert await page.evaluate(run, minified) == await page.evaluate(run, program), program
