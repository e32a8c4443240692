"""Reads ballast's /metrics (Prometheus text format) with the standard library.

Shared by the demo's helpers: the fleet supervisor and the TTS exporter follow
`ballast_recommended_replicas{target=...}`, watch.py prints the table.
"""
import re
import urllib.request

# name{labels} value   (ballast's series carry no timestamps)
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url, timeout=2.0):
    """Returns [(name, {label: value}, float)] for every sample at `url`."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m and not line.startswith('#'):
            labels = dict(_LABEL.findall(m.group(2) or ''))
            samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def recommended(url, target):
    """ballast's current recommendation for `target`, or None (not yet known,
    or ballast not reachable)."""
    try:
        for name, labels, value in scrape(url):
            if name == 'ballast_recommended_replicas' and labels.get('target') == target:
                return int(value)
    except (OSError, ValueError):
        pass
    return None
