"""QR codes for management URLs and printable label sheets (PDF) for inventory items.

QR codes come from `qrcode` at the sizes of the source (seed 003 L2697-2703): 128×128 pixels on
the item detail view, 64×64 in a service's inventory table. Every module is a whole number of
pixels (the code is centred in a white square of exactly the asked size) so a phone camera reads
it at either size.

Label sheets are HTML (Jinja2) rendered by WeasyPrint: A4, three columns of seven labels
(63.5 × 38.1 mm, the common 21-per-sheet stock), each with the QR code of the item's primary
identifier (item text 1: ICCID, number, MAC, serial — or its management URL when asked) and
the first three identifiers in text under it, so a label can be read by eye and scanned by a store terminal.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import qrcode
from jinja2 import Environment, select_autoescape
from PIL import Image
from qrcode.constants import ERROR_CORRECT_L, ERROR_CORRECT_M
from sqlalchemy import select

from omnidesk.auth import Actor
from omnidesk.errors import ServiceError, ValidationError
from omnidesk.inventory import rules
from omnidesk.inventory.models import InventoryItem, InventoryTemplate
from omnidesk.inventory.service import ItemView, _item_view, template_by_name

DETAIL_SIZE = 128  # item detail view
TABLE_SIZE = 64  # service inventory table
LABEL_SIZE = 256  # pixels of the QR image on a label (printed 19 mm wide)
MAX_LABELS = 5000
CONTENTS = ("identifier", "management_url")


def qr_matrix(data: str, *, max_modules: int | None = None) -> list[list[bool]]:
    """The QR code's modules including the quiet zone (True = dark), the smallest that fits."""
    if not data:
        raise ValidationError({"data": "A QR code needs something to encode."})
    attempts = [(ERROR_CORRECT_M, 4), (ERROR_CORRECT_L, 4), (ERROR_CORRECT_L, 2)]
    for correction, border in attempts:
        code = qrcode.QRCode(error_correction=correction, box_size=1, border=border)
        code.add_data(data)
        code.make(fit=True)
        matrix = code.get_matrix()
        if max_modules is None or len(matrix) <= max_modules:
            return matrix
    raise ValidationError({"data": f"{len(data)} characters are too many for a {max_modules}-pixel QR code."})


def qr_png(data: str, size: int = DETAIL_SIZE) -> bytes:
    """A size×size PNG of the QR code of `data`, every module an equal whole number of pixels."""
    if size < 21 + 4:
        raise ValidationError({"size": f"A QR code needs at least 25 pixels; got {size}."})
    matrix = qr_matrix(data, max_modules=size)
    modules = len(matrix)
    scale = size // modules
    code = Image.new("L", (modules, modules))
    code.putdata([0 if dark else 255 for row in matrix for dark in row])
    code = code.resize((modules * scale, modules * scale), Image.NEAREST)
    canvas = Image.new("L", (size, size), 255)
    offset = (size - modules * scale) // 2
    canvas.paste(code, (offset, offset))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def item_qr(item: ItemView, size: int = DETAIL_SIZE) -> bytes | None:
    """The QR code of an item's management URL (or eSIM activation string), None when it has none."""
    return qr_png(item.management_url, size) if item.management_url else None


_SHEET = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title><style>
@page { size: A4; margin: 10.7mm 7.2mm; }
body { margin: 0; font-family: "DejaVu Sans", sans-serif; }
.sheet { display: grid; grid-template-columns: repeat(3, 63.5mm); grid-auto-rows: 38.1mm; column-gap: 2.5mm; }
.label { box-sizing: border-box; padding: 1.5mm 2mm; display: flex; flex-direction: column; align-items: center;
         overflow: hidden; break-inside: avoid; text-align: center; }
.label img { width: 19mm; height: 19mm; flex: none; }
.text { margin-top: 0.8mm; font-size: 6.5pt; line-height: 1.2; overflow-wrap: anywhere; max-width: 100%; }
.type { font-weight: bold; font-size: 7pt; }
.id { font-family: "DejaVu Sans Mono", monospace; }
.k { color: #555; }
</style></head><body><div class="sheet">
{% for label in labels %}<div class="label">
  <img src="data:image/png;base64,{{ label.png }}" alt="{{ label.code }}">
  <div class="text">
    <div class="type">{{ label.template }} #{{ label.id }}</div>
    {% for key, value in label.identifiers %}<div><span class="k">{{ key }}</span> <span class="id">{{ value }}</span></div>
    {% endfor %}
  </div>
</div>{% endfor %}
</div></body></html>""")


def label_code(item: ItemView, content: str = "identifier") -> str | None:
    """What an item's label QR code holds."""
    return item.itemtext1 if content == "identifier" else item.management_url


def render_label_sheet(items: Sequence[ItemView], *, content: str = "identifier", title: str = "Inventory labels") -> bytes:
    """A PDF of labels for `items` (items without the asked content are skipped)."""
    from weasyprint import HTML

    if content not in CONTENTS:
        raise ValidationError({"content": f"Labels encode the item's identifier or its management URL; got {content!r}."})
    labels = []
    for item in items:
        code = label_code(item, content)
        if not code:
            continue
        labels.append({
            "id": item.id, "template": item.template_name, "code": code,
            "png": base64.b64encode(qr_png(code, LABEL_SIZE)).decode("ascii"),
            "identifiers": item.identifiers[:3],
        })
    if not labels:
        raise ServiceError("There are no items to print labels for" + (" with a management URL." if content != "identifier" else "."))
    return HTML(string=_SHEET.render(labels=labels, title=title)).write_pdf()


def label_sheet(
    db, actor: Actor, *, template: str | None = None, item_ids: Sequence[int] | None = None, state: str | None = None,
    location: str | None = None, content: str = "identifier", limit: int = MAX_LABELS,
) -> bytes:
    """Label sheet PDF for chosen items, or for a template's items (optionally by state and location)."""
    actor.require("view_inventory", "print inventory labels")
    if template is None and not item_ids:
        raise ValidationError({"template": "Choose the items: a template (and optionally state and location) or item ids."})
    with db.read() as s:
        stmt = (
            select(InventoryItem, InventoryTemplate)
            .join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
            .order_by(InventoryItem.id)
            .limit(max(1, min(limit, MAX_LABELS)))
        )
        if template is not None:
            stmt = stmt.where(InventoryItem.template_id == template_by_name(s, template).id)
        if item_ids:
            stmt = stmt.where(InventoryItem.id.in_(list(item_ids)))
        if state:
            stmt = stmt.where(InventoryItem.item_state == rules.item_state(state))
        if location:
            stmt = stmt.where(InventoryItem.item_location == location)
        items = [_item_view(i, t) for i, t in s.execute(stmt)]
    if item_ids:
        missing = sorted(set(item_ids) - {i.id for i in items})
        if missing:
            raise ServiceError(f"There is no inventory item {missing[0]}" + (f" of template {template}." if template else "."))
    return render_label_sheet(items, content=content, title=f"{template or 'Inventory'} labels")
