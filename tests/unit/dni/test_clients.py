"""Who is asking: the client key of an address, declared crawlers, speculative requests."""

import pytest

from ctrack.config import DniSettings
from ctrack.dni.clients import Crawlers, client_key, speculative


@pytest.mark.parametrize(
    "address, key",
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),  # the same LAN: the same client
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_client_key(address, key):
    assert client_key(address) == key


CRAWLERS = Crawlers(DniSettings().crawlers)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.6422.175 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    ],
)
def test_declared_crawlers(agent):
    assert CRAWLERS.match(agent)


@pytest.mark.parametrize(
    "agent",
    [
        None,
        "",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; Cubot KingKong 9) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
    ],
)
def test_browsers_are_not_crawlers(agent):
    assert not CRAWLERS.match(agent)


def test_the_crawler_list_is_configurable():
    assert Crawlers(["MyMonitor"]).match("mymonitor/1.0")
    assert not Crawlers([]).match("Googlebot/2.1")


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, False),
        ({"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}, False),
        ({"Sec-Purpose": "prefetch"}, True),
        ({"Sec-Purpose": "prefetch;prerender"}, True),
        ({"Purpose": "prefetch"}, True),
        ({"X-Moz": "prefetch"}, True),
        ({"X-Purpose": "preview"}, True),
        ({"Sec-Fetch-Dest": "document"}, True),  # a navigation to the endpoint, not the page's script
        ({"Sec-Fetch-Dest": "iframe"}, True),
    ],
)
def test_speculative_requests(headers, expected):
    assert speculative(headers) is expected


def test_a_remembered_answer_is_the_same_answer():
    crawlers = Crawlers(["Googlebot"])
    crawlers.SEEN = 2
    agents = ["Googlebot/2.1", "Mozilla/5.0 Chrome", "Mozilla/5.0 Firefox"] * 2
    assert [crawlers.match(a) for a in agents] == [True, False, False] * 2
