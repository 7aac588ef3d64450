"""The daemon's HTTP side (aiohttp): DNI lease API, ctrack.js, dashboard, exports, health."""
