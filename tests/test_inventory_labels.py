"""QR codes of management URLs and printable label sheets, read back from the PDF."""

from __future__ import annotations

import io
import subprocess

import pytest
from PIL import Image

from omnidesk.errors import ServiceError, ValidationError
from omnidesk.inventory import labels
from omnidesk.inventory import rules
from omnidesk.inventory import service as inv


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if rules.luhn_ok(body + d))


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("L").point(lambda v: 0 if v < 128 else 255)


@pytest.mark.parametrize("size", [labels.DETAIL_SIZE, labels.TABLE_SIZE])
@pytest.mark.parametrize("url", ["https://192.168.1.1", "LPA:1$smdp.example.com$ACTIVATION-CODE-ABC123XYZ"])
def test_a_management_url_qr_code_is_exactly_the_source_size_and_holds_the_url(size, url):
    png = labels.qr_png(url, size)
    img = pixels(png)
    assert img.size == (size, size)
    matrix = labels.qr_matrix(url, max_modules=size)
    scale = size // len(matrix)
    offset = (size - len(matrix) * scale) // 2
    assert scale >= 1
    # every module is a solid square of `scale` pixels with the colour of the code's matrix
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            block = img.crop((offset + c * scale, offset + r * scale, offset + (c + 1) * scale, offset + (r + 1) * scale))
            assert set(block.tobytes()) == {0 if dark else 255}


def test_too_much_text_for_a_small_code_is_refused_with_a_reason():
    with pytest.raises(ValidationError, match="too many for a 64-pixel QR code"):
        labels.qr_png("https://example.com/" + "x" * 400, labels.TABLE_SIZE)


def test_an_item_qr_is_its_management_url_and_items_without_one_have_none(db, admin):
    cpe = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:FF", itemtext2="FW-1",
                          management_url="https://192.168.100.1")
    plain = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:00", itemtext2="FW-2")
    assert labels.item_qr(cpe, labels.TABLE_SIZE) == labels.qr_png("https://192.168.100.1", 64)
    assert labels.item_qr(plain) is None


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "labels.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _pdf_images(pdf: bytes, tmp_path) -> list[Image.Image]:
    path = tmp_path / "labels.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdfimages", "-png", str(path), str(tmp_path / "img")], check=True)
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("img-*.png"))]


def test_a_label_sheet_carries_each_items_identifiers_in_text_and_its_qr_code(db, admin, tmp_path):
    sims = [inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}", itemtext3="Physical")
            for n in range(1, 26)]  # 25 labels: more than one A4 sheet of 21
    pdf = labels.label_sheet(db, admin, template="SIM Card")
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf, tmp_path)
    for s in sims:
        assert s.itemtext1 in text and s.itemtexts[1] in text and f"SIM Card #{s.id}" in text
    assert text.count("\f") == 2  # two pages
    images = _pdf_images(pdf, tmp_path)
    assert len(images) == len(sims)
    for image, item in zip(images, sims):
        expected = pixels(labels.qr_png(item.itemtext1, labels.LABEL_SIZE))
        assert image.size == expected.size and image.point(lambda v: 0 if v < 128 else 255).tobytes() == expected.tobytes()


def test_labels_of_chosen_items_can_encode_their_management_url(db, admin, tmp_path):
    a = inv.create_item(db, admin, "GPON ONT", itemtext1="ALCL00000001", management_url="https://192.168.1.1")
    b = inv.create_item(db, admin, "GPON ONT", itemtext1="ALCL00000002")
    pdf = labels.label_sheet(db, admin, item_ids=[a.id, b.id], content="management_url")
    text = _pdf_text(pdf, tmp_path)
    assert "ALCL00000001" in text and "ALCL00000002" not in text  # b has no URL to encode
    [image] = _pdf_images(pdf, tmp_path)
    assert image.point(lambda v: 0 if v < 128 else 255).tobytes() == pixels(labels.qr_png("https://192.168.1.1", labels.LABEL_SIZE)).tobytes()
    with pytest.raises(ServiceError, match="no items to print labels for with a management URL"):
        labels.label_sheet(db, admin, item_ids=[b.id], content="management_url")
    with pytest.raises(ServiceError, match="no inventory item 999"):
        labels.label_sheet(db, admin, item_ids=[a.id, 999])
