"""`{% plotly_style_placeholders %}`: for pages that draw Plotly charts under the strict CSP."""

from __future__ import annotations

from django import template
from django.utils.html import format_html_join

from analytics.plotly_css import injected_style_ids

register = template.Library()


@register.simple_tag
def plotly_style_placeholders():
    """An empty element for each <style> plotly.js would insert at load (and the CSP would
    block); plotly.js inserts nothing when an element with that id already exists."""
    return format_html_join("", '<template id="{}"></template>', ((i,) for i in injected_style_ids()))
