"""The [dni] and [http] settings: what they accept, and the FILE:LINE error for what they do not."""

import pytest

from ctrack import config


def parse(text):
    return config.parse_text(text, "f.ini")


def test_dni_settings():
    values = parse(
        "[dni]\n"
        "published_numbers = www.Example.com=+1 503 555 0100|+1-800-555-0199, shop.example.org=+442079460000\n"
        "site_attribution = example.com=last:7, other.org=first\n"
        "allowed_origins = https://Staging.example.net, http://127.0.0.1:8080\n"
        "[http]\ntrusted_proxies = 127.0.0.1, ::1\n"
    )
    assert values["dni.published_numbers"] == {
        "example.com": ("+15035550100", "+18005550199"),
        "shop.example.org": ("+442079460000",),
    }
    assert values["dni.site_attribution"] == {"example.com": ("last", 7), "other.org": ("first", None)}
    assert values["dni.allowed_origins"] == {"https://staging.example.net", "http://127.0.0.1:8080"}
    assert values["http.trusted_proxies"] == {"127.0.0.1", "::1"}


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "published_numbers = example.com=503-555-0100",
            "published_numbers: '503-555-0100' is not a valid number in international format",
        ),
        ("published_numbers = example.com", "published_numbers: expected SITE=+NUMBER[|+NUMBER]"),
        ("published_numbers = a.com=+15035550100, a.com=+15035550101", "published_numbers: site a.com is listed twice"),
        ("site_attribution = example.com=middle", "site_attribution: expected first or last touch, not 'middle'"),
        ("site_attribution = example.com=last:0", "site_attribution: expected a number greater than 0"),
        ("allowed_origins = staging.example.net", "allowed_origins: expected origins such as https://www.example.com"),
        ("allowed_origins = https://example.net/path", "allowed_origins: expected origins such as"),
        ("attribution = middle", "attribution: expected one of first, last"),
        ("rate_burst = 0", "rate_burst: expected a number greater than 0"),
    ],
)
def test_bad_dni_lines(line, message):
    with pytest.raises(config.ConfigError) as err:
        parse(f"[dni]\n{line}\n")
    assert str(err.value).startswith(f"f.ini:2: {message}")


def test_bad_proxy_address():
    with pytest.raises(config.ConfigError) as err:
        parse("[http]\ntrusted_proxies = proxy.local\n")
    assert str(err.value) == "f.ini:2: trusted_proxies: expected IP addresses, comma-separated (got 'proxy.local')"
