/* The broadcast targeting map: an offline basemap, the cell sites with their sector azimuths,
 * saved zones, and one drawn warning area (polygon, rectangle or circle).
 *
 * The page decides nothing. It reports what the operator drew to OmniDesk over the Qt web channel
 * ("bridge"), and OmniDesk works out the covered cells and tells the page which sites to mark.
 * OmniDesk drives the page through window.omnimap.
 */
(function () {
    "use strict";

    var SITE = "#2f4a6d", SITE_HIT = "#c0392b", SECTOR = "#5b7290", AREA = "#d35400", ZONE = "#3b6fb6";
    var ARROWS_FROM_ZOOM = 10, LABELS_FROM_ZOOM = 12, MAX_LABELS = 1500;

    var bridge = null;
    var config = window.OMNIDESK_MAP_CONFIG || {};
    var map = L.map("map", { preferCanvas: true, minZoom: 2, maxZoom: 18, worldCopyJump: true,
                             zoomSnap: 0.5, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.setView([20, 0], 2);

    // ------------------------------------------------------------------ basemap
    var world = window.OMNIDESK_COUNTRIES;
    L.geoJSON(topojson.feature(world, world.objects.countries), {
        interactive: false,
        style: { color: "#8c99ab", weight: 0.8, fillColor: "#f1efe8", fillOpacity: 1 }
    }).addTo(map);
    map.attributionControl.addAttribution("Outlines: Natural Earth");
    if (config.tileUrl) {
        L.tileLayer(config.tileUrl, { maxZoom: 19, attribution: config.tileAttribution || "" }).addTo(map);
    }

    // ------------------------------------------------------------------ cell sites, on one canvas
    // sites[i] = [lat, lng, name, [azimuth, ...]]; 20,000 of them as separate Leaflet layers would
    // take seconds to add, so they are painted in one pass and repainted when the view moves.
    var sites = [], hit = new Uint8Array(0);

    var SiteLayer = L.Layer.extend({
        onAdd: function (m) {
            this._canvas = L.DomUtil.create("canvas", "od-sites leaflet-zoom-hide");
            m.getPanes().overlayPane.appendChild(this._canvas);
            m.on("moveend zoomend resize viewreset", this.redraw, this);
            this.redraw();
        },
        onRemove: function (m) {
            L.DomUtil.remove(this._canvas);
            m.off("moveend zoomend resize viewreset", this.redraw, this);
        },
        redraw: function () {
            var canvas = this._canvas, size = map.getSize(), ratio = window.devicePixelRatio || 1;
            L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
            canvas.width = size.x * ratio;
            canvas.height = size.y * ratio;
            canvas.style.width = size.x + "px";
            canvas.style.height = size.y + "px";
            var ctx = canvas.getContext("2d");
            ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
            ctx.clearRect(0, 0, size.x, size.y);
            if (!sites.length) {
                return;
            }
            var zoom = map.getZoom(), view = map.getBounds().pad(0.05);
            var arrows = zoom >= ARROWS_FROM_ZOOM, labels = zoom >= LABELS_FROM_ZOOM;
            var radius = zoom < 6 ? 1.2 : zoom < 9 ? 1.8 : 4, arrowLength = zoom < 13 ? 14 : 22;
            var shown = [];
            for (var pass = 0; pass < 2; pass++) {       // covered sites last, so they stay on top
                ctx.fillStyle = pass ? SITE_HIT : SITE;
                ctx.strokeStyle = pass ? SITE_HIT : SECTOR;
                ctx.lineWidth = pass ? 2 : 1.2;
                ctx.globalAlpha = pass || zoom >= 9 ? 1 : 0.7;   // dense country views stay readable
                for (var i = 0; i < sites.length; i++) {
                    if (hit[i] !== pass) {
                        continue;
                    }
                    var s = sites[i];
                    if (!view.contains([s[0], s[1]])) {
                        continue;
                    }
                    var p = map.latLngToContainerPoint([s[0], s[1]]);
                    if (arrows) {
                        drawSectors(ctx, p, s[3], arrowLength);
                    }
                    ctx.beginPath();
                    ctx.arc(p.x, p.y, pass ? radius + 1 : radius, 0, 2 * Math.PI);
                    ctx.fill();
                    if (labels && shown.length < MAX_LABELS) {
                        shown.push([p, s[2]]);
                    }
                }
            }
            if (shown.length) {
                ctx.font = "11px DejaVu Sans, sans-serif";
                ctx.lineWidth = 3;
                ctx.strokeStyle = "rgba(255,255,255,0.9)";
                ctx.fillStyle = "#1f2937";
                shown.forEach(function (item) {
                    ctx.strokeText(item[1], item[0].x + 7, item[0].y - 6);
                    ctx.fillText(item[1], item[0].x + 7, item[0].y - 6);
                });
            }
        }
    });

    // One arrow per sector, pointing along its azimuth (degrees clockwise from north).
    function drawSectors(ctx, p, azimuths, length) {
        for (var k = 0; k < azimuths.length; k++) {
            var a = azimuths[k] * Math.PI / 180, dx = Math.sin(a), dy = -Math.cos(a);
            var x = p.x + dx * length, y = p.y + dy * length;
            ctx.beginPath();
            ctx.moveTo(p.x, p.y);
            ctx.lineTo(x, y);
            ctx.moveTo(x - dx * 5 - dy * 3.5, y - dy * 5 + dx * 3.5);
            ctx.lineTo(x, y);
            ctx.lineTo(x - dx * 5 + dy * 3.5, y - dy * 5 - dx * 3.5);
            ctx.stroke();
        }
    }

    var siteLayer = new SiteLayer().addTo(map);

    // A click near a site names it and its sectors.
    map.on("click", function (e) {
        if (drawing || !sites.length) {
            return;
        }
        var best = -1, bestDistance = 9;
        for (var i = 0; i < sites.length; i++) {
            var p = map.latLngToContainerPoint([sites[i][0], sites[i][1]]);
            var d = Math.abs(p.x - e.containerPoint.x) + Math.abs(p.y - e.containerPoint.y);
            if (d < bestDistance) {
                best = i;
                bestDistance = d;
            }
        }
        if (best >= 0) {
            var s = sites[best];
            var text = document.createElement("div");
            text.className = "od-site-popup";
            var name = document.createElement("b");
            name.textContent = s[2];
            text.appendChild(name);
            text.appendChild(document.createElement("br"));
            text.appendChild(document.createTextNode(
                s[3].length ? "Sectors at " + s[3].map(function (a) { return a + "°"; }).join(", ") : "No sectors"));
            L.popup().setLatLng([s[0], s[1]]).setContent(text).openOn(map);
        }
    });

    // ------------------------------------------------------------------ saved zones
    var zones = L.featureGroup().addTo(map);

    function layerFor(shape, style) {
        if (shape.shape === "circle") {
            return L.circle(shape.center, L.extend({ radius: shape.radius_m }, style));
        }
        if (shape.shape === "rectangle") {
            return L.rectangle(shape.corners, style);
        }
        return L.polygon(shape.points, style);
    }

    // ------------------------------------------------------------------ the drawn warning area
    var area = L.featureGroup().addTo(map), drawing = false;
    var areaStyle = { color: AREA, weight: 2.5, fillColor: AREA, fillOpacity: 0.12 };
    L.drawLocal.draw.handlers.polyline.error = "<strong>The edges of a warning area must not cross.</strong>";
    L.drawLocal.draw.toolbar.buttons.polygon = "Draw a warning area (polygon)";
    L.drawLocal.draw.toolbar.buttons.rectangle = "Draw a warning area (rectangle)";
    L.drawLocal.draw.toolbar.buttons.circle = "Draw a warning area (circle)";
    map.addControl(new L.Control.Draw({
        position: "topleft",
        draw: {
            polygon: { allowIntersection: false, showArea: false, shapeOptions: areaStyle },
            rectangle: { shapeOptions: areaStyle, showArea: false },
            circle: { shapeOptions: areaStyle, showRadius: true, metric: true },
            polyline: false, marker: false, circlemarker: false
        },
        edit: { featureGroup: area, remove: true }
    }));

    function shapeOf(layer) {
        if (layer instanceof L.Circle) {
            var c = layer.getLatLng();
            return { shape: "circle", center: [c.lat, c.lng], radius_m: layer.getRadius() };
        }
        if (layer instanceof L.Rectangle) {
            var b = layer.getBounds();
            return { shape: "rectangle", corners: [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]] };
        }
        return { shape: "polygon", points: layer.getLatLngs()[0].map(function (p) { return [p.lat, p.lng]; }) };
    }

    function report(shape) {
        if (bridge) {
            bridge.shapeDrawn(JSON.stringify(shape));
        }
    }

    map.on(L.Draw.Event.DRAWSTART, function () { drawing = true; });
    map.on(L.Draw.Event.DRAWSTOP, function () { drawing = false; });
    map.on(L.Draw.Event.CREATED, function (e) {
        area.clearLayers();
        area.addLayer(e.layer);
        report(shapeOf(e.layer));
    });
    map.on(L.Draw.Event.EDITED, function () {
        area.eachLayer(function (layer) { report(shapeOf(layer)); });
    });
    map.on(L.Draw.Event.DELETED, function () {
        if (bridge && area.getLayers().length === 0) {
            bridge.shapeCleared();
        }
    });

    // ------------------------------------------------------------------ info box
    var info = L.control({ position: "topright" });
    info.onAdd = function () {
        this._div = L.DomUtil.create("div", "od-info");
        this._div.textContent = "No cell sites loaded";
        return this._div;
    };
    info.addTo(map);

    // ------------------------------------------------------------------ what OmniDesk calls
    window.omnimap = {
        setSites: function (rows) {
            sites = rows;
            hit = new Uint8Array(rows.length);
            siteLayer.redraw();
            requestAnimationFrame(function () {
                if (bridge) {
                    bridge.sitesPainted(rows.length);
                }
            });
        },
        fitSites: function () {
            if (sites.length) {
                map.fitBounds(L.latLngBounds(sites.map(function (s) { return [s[0], s[1]]; })).pad(0.05));
            }
        },
        highlight: function (indexes) {
            hit = new Uint8Array(sites.length);
            indexes.forEach(function (i) { hit[i] = 1; });
            siteLayer.redraw();
        },
        setInfo: function (html) {
            info._div.innerHTML = html;
        },
        setZones: function (list) {
            zones.clearLayers();
            list.forEach(function (zone) {
                var layer = layerFor(zone.shape, { color: ZONE, weight: 1.5, dashArray: "6 4", fillOpacity: 0.05 });
                layer.bindTooltip(zone.name, { permanent: true, direction: "center", className: "od-zone-label" });
                layer.on("click", function () {
                    if (!drawing && bridge) {
                        bridge.zoneClicked(zone.id);
                    }
                });
                zones.addLayer(layer);
            });
        },
        // Show `shape` as the warning area; with `notify`, report it as if the operator drew it.
        useShape: function (shape, notify) {
            area.clearLayers();
            var layer = layerFor(shape, areaStyle);
            area.addLayer(layer);
            map.fitBounds(layer.getBounds().pad(0.2));
            if (notify) {
                report(shape);
            }
        },
        clearShape: function () {
            area.clearLayers();
        },
        // Where a latitude/longitude is on screen (for tests that click the map like a user).
        pointOf: function (lat, lng) {
            var p = map.latLngToContainerPoint([lat, lng]);
            return [p.x, p.y];
        },
        view: function (lat, lng, zoom) {
            map.setView([lat, lng], zoom, { animate: false });
        }
    };

    new QWebChannel(qt.webChannelTransport, function (channel) {
        bridge = channel.objects.bridge;
        bridge.pageReady();
    });
}());
