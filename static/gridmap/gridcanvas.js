/*
 * GridCanvas: the grid polygons of a GridMap map, fetched once from a packed file and drawn
 * on Leaflet's canvas (geo/maps.py GridCanvas adds this file next to Leaflet and calls
 * GridMapCanvas(map, options); geo/maps.py pack_grids writes the file).
 *
 * The polygons live in one L.featureGroup so that streamlit-folium's click handler, bound to
 * the map's top-level layers, sees a click on any grid (with the grid's tooltip, which
 * carries its code). Colours, tooltip figures and the view come later through
 * window.gridmap.apply(payload) (geo/maps.py GridStyle), so that a refresh changes colours
 * without re-sending or remounting the geometry.
 *
 * options, from Python (geo/maps.py canvas_options):
 *   url, file     the packed grid file and its id (a style for another file is ignored)
 *   version       the packed file version this decoder reads
 *   dark          the wall's dark theme
 *   noData        fill of a grid before its first style
 *   palette       {edge, outside, outsideOpacity}: grid edges and grids outside the area
 *   codeMark      brackets the grid code in a tooltip (a click returns the tooltip as text)
 *   outside, missing   the class characters of a grid outside the area, and of one whose
 *                      figure is missing
 *   fill          the map takes its frame's height (the kiosk sizes the frame from the screen)
 *
 * Two kinds of text go on the map, both escaped (names are data, not markup): the labels a
 * style brings (the wall's county names and totals, payload.labels), and each grid's name
 * once the map is zoomed in far enough for the name to fit inside the grid.
 */
(function () {
  window.GridMapCanvas = function (map, options) {
    var palette = options.palette, mark = options.codeMark;
    var gm = window.gridmap = {map: map, layers: [], ready: false, pending: null,
                              fitKey: null, selected: -1, file: options.file,
                              dark: options.dark};
    gm.group = L.featureGroup().addTo(map);
    // Text above the grids: non-interactive markers in their own pane, so that hover and
    // clicks still reach the grids underneath.
    map.createPane("gmLabels").style.zIndex = 650;
    map.getPane("gmLabels").style.pointerEvents = "none";
    gm.unitLabels = L.layerGroup().addTo(map);
    gm.gridLabels = L.layerGroup().addTo(map);
    var css = document.createElement("style");
    // Sized to the frame: on the wall (dark) a county name is about 2 % of the map's width,
    // 28 px at 1920x1080 and twice that at 3840x2160, read from 5 m.
    css.textContent =
      ".gm-label{pointer-events:none;white-space:nowrap;text-align:center;line-height:1.15;" +
      "transform:translate(-50%,-50%);font-family:system-ui,'Noto Sans CJK SC'," +
      "'WenQuanYi Zen Hei',sans-serif;font-weight:700}" +
      ".gm-label b{display:block;font-size:var(--gm-unit)}" +
      ".gm-label span{display:block;font-size:calc(var(--gm-unit)*.85)}" +
      ".gm-grid-label{pointer-events:none;white-space:nowrap;transform:translate(-50%,-50%);" +
      "font-size:var(--gm-grid);font-family:system-ui,'Noto Sans CJK SC',sans-serif}" +
      ":root{--gm-unit:clamp(12px,1.3vw,20px);--gm-grid:12px;--gm-ink:#1c2833;" +
      "--gm-halo:#ffffff}" +
      ":root.gm-dark{--gm-unit:clamp(14px,2.1vw,120px);--gm-grid:clamp(12px,1.1vw,40px);" +
      "--gm-ink:#ffffff;--gm-halo:#000000}" +
      ".gm-label,.gm-grid-label{color:var(--gm-ink);text-shadow:0 0 3px var(--gm-halo)," +
      "0 0 3px var(--gm-halo),0 0 6px var(--gm-halo)}" +
      // The unattended wall: nobody zooms, and the scale is read from afar.
      ":root.gm-dark .leaflet-control-zoom{display:none}" +
      ":root.gm-dark .leaflet-control-scale-line,:root.gm-dark .leaflet-control-attribution" +
      "{font-size:clamp(11px,.8vw,32px)}" +
      (options.fill ? "html,body{height:100%;margin:0;overflow:hidden}" +
                      "#map_div,#map_div2,.folium-map{height:100vh !important}" : "");
    document.head.appendChild(css);
    // streamlit-component-lib adds a new theme <style> (":root { --primary-color…") to the
    // frame at every render and never removes the old one: on a wall refreshing every 2 s
    // that is 1,800 elements an hour. Keep only the newest.
    var theme = function (el) {
      return el.tagName === "STYLE" && /^\s*:root\s*\{\s*--primary-color/.test(el.textContent);
    };
    new MutationObserver(function () {
      var found = [].filter.call(document.head.children, theme);
      for (var k = 0; k < found.length - 1; k++) { found[k].remove(); }
    }).observe(document.head, {childList: true});
    if (options.dark) { document.documentElement.classList.add("gm-dark"); }
    // The page sizes a filling map's frame from the screen after the map was drawn: follow
    // the frame (Leaflet then fires "resize", which re-fits an untouched view).
    if (options.fill && window.ResizeObserver) {
      new ResizeObserver(function () { map.invalidateSize(); }).observe(map.getContainer());
    }
    // Create the shared canvas now, so that it sits below any image overlay added later.
    map.getRenderer(L.polygon([[0, 0], [0, 0], [0, 0]]));
    // Metric scale only; a plain-text attribution prefix (no flag, no outside link).
    L.control.scale({imperial: false}).addTo(map);
    if (map.attributionControl) { map.attributionControl.setPrefix("Leaflet"); }
    gm.esc = function (s) {
      return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
        return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
      });
    };
    function decode(doc) {
      var k = 1 / doc.scale, x = 0, y = 0;
      return doc.shapes.map(function (polys) {
        return polys.map(function (rings) {
          return rings.map(function (steps) {
            var out = new Array(steps.length / 2);
            for (var i = 0; i < steps.length; i += 2) {
              x += steps[i]; y += steps[i + 1];
              out[i / 2] = [y * k, x * k];
            }
            return out;
          });
        });
      });
    }
    gm.tooltip = function (i, figure) {
      // The code between zero-width spaces: a click returns the tooltip as plain text, where
      // the line breaks are gone and a name ending in digits would run into the code.
      var html = "<b>" + gm.esc(gm.names[i]) + "</b><br>" + mark + gm.codes[i] + mark;
      if (figure) { html += "<br>" + figure; }
      return html;
    };
    fetch(options.url).then(function (r) {
      if (!r.ok) { throw new Error("grid file " + r.status); }
      return r.json();
    }).then(function (doc) {
      if (doc.v !== options.version) { throw new Error("grid file version " + doc.v); }
      gm.codes = doc.codes; gm.names = doc.names;
      var shapes = decode(doc);
      for (var i = 0; i < shapes.length; i++) {
        var layer = L.polygon(shapes[i], {weight: 0.5, color: "#ffffff", fillOpacity: 0.7,
                                          fillColor: options.noData});
        layer.bindTooltip(gm.tooltip(i, ""), {sticky: true});
        layer.gridIndex = i;
        gm.group.addLayer(layer);
        gm.layers.push(layer);
      }
      gm.ready = true;
      gm.sink(-1);
      document.documentElement.setAttribute("data-grids", String(shapes.length));
      if (gm.pending) { var p = gm.pending; gm.pending = null; gm.apply(p); }
    }).catch(function (err) { console.warn("GridMap: " + err); });
    gm.fit = function (bounds) {
      // The iframe may still be sizing itself: fit once it has a size, and again when it
      // resizes, until the user pans or zooms.
      gm.lastFit = bounds;
      gm.touched = false;
      map.invalidateSize();
      var size = map.getSize();
      // Wait for a size, and for any zoom animation to end: its last step would undo the fit.
      if (size.x < 50 || size.y < 50 || map._animatingZoom) {
        setTimeout(function () { gm.fit(bounds); }, 100);
        return;
      }
      map.fitBounds(bounds, {padding: [8, 8], animate: false});
    };
    map.on("dragstart", function () { gm.touched = true; });
    map.getContainer().addEventListener("wheel", function () { gm.touched = true; });
    map.getContainer().addEventListener("dblclick", function () { gm.touched = true; });
    map.on("resize", function () {
      if (gm.lastFit && !gm.touched) {
        map.fitBounds(gm.lastFit, {padding: [8, 8], animate: false});
      }
    });
    // The grids arrive after the page's overlays (stations, points) on the same canvas:
    // move them to the back of the drawing order, the selected grid last so that its
    // outline is drawn over its neighbours but under the overlays.
    gm.sink = function (selected) {
      if (selected >= 0 && gm.layers[selected]) { gm.layers[selected].bringToBack(); }
      for (var i = gm.layers.length - 1; i >= 0; i--) {
        if (i !== selected) { gm.layers[i].bringToBack(); }
      }
    };
    // Below zoom 11 a town centre holds more grid edges than pixels: drawn dark, they paint
    // it black. Edges appear once the grids are big enough to read.
    gm.edges = function () { return map.getZoom() >= 11; };
    map.on("zoomend", function () {
      if (gm.ready && gm.last && gm.edges() !== gm.edgesShown) { gm.apply(gm.last); }
    });
    gm.apply = function (p) {
      if (!gm.ready) { gm.pending = p; return; }
      gm.last = p;
      gm.edgesShown = gm.edges();
      if (p.file !== gm.file) { return; }
      // Thin, half-transparent edges: in dense town centres solid edges would paint the
      // grids over and hide their colour.
      var outline = palette.edge;
      var edges = gm.edges();
      for (var i = 0; i < gm.layers.length; i++) {
        var c = p.classes.charAt(i), layer = gm.layers[i], style;
        if (c === options.outside) {
          style = {fillColor: palette.outside, fillOpacity: palette.outsideOpacity,
                   color: outline, weight: 0.3, opacity: 0.5};
          if (!edges) {
            style.color = style.fillColor; style.opacity = style.fillOpacity; style.weight = 0.8;
          }
        } else {
          style = {fillColor: c === options.missing ? p.noData : p.colours[c.charCodeAt(0) - 48],
                   fillOpacity: p.opacity, color: outline, weight: 0.4, opacity: 0.45};
          // Zoomed out, each grid's edge takes its own colour: it closes the hairline seams
          // between neighbours, where the dark background would show through.
          if (!edges) {
            style.color = style.fillColor; style.opacity = p.opacity; style.weight = 0.8;
          }
        }
        if (i === p.selected) {
          style.color = p.selectedColour; style.weight = 4; style.opacity = 1;
        }
        layer.setStyle(style);
        var figure = p.values && c !== options.outside
          ? gm.esc(p.label) + "：" + gm.esc(p.values[i]) : "";
        layer.setTooltipContent(gm.tooltip(i, figure));
      }
      if (p.selected !== gm.selected) { gm.selected = p.selected; gm.sink(p.selected); }
      if (p.fit && p.fitKey !== gm.fitKey) {
        gm.fitKey = p.fitKey;
        gm.fit(p.fit);
      }
      gm.drawUnitLabels(p.labels || []);
      gm.drawGridLabels();
      document.documentElement.setAttribute("data-style", p.stamp);
    };
    gm.label = function (lat, lng, className, html) {
      return L.marker([lat, lng], {
        pane: "gmLabels", interactive: false, keyboard: false,
        icon: L.divIcon({className: "", iconSize: null,
                         html: '<div class="' + className + '">' + html + "</div>"})});
    };
    gm.drawUnitLabels = function (labels) {
      var key = JSON.stringify(labels);
      if (key === gm.unitKey) { return; }
      gm.unitKey = key;
      gm.unitLabels.clearLayers();
      labels.forEach(function (l) {
        gm.unitLabels.addLayer(gm.label(l.lat, l.lon, "gm-label",
          "<b>" + gm.esc(l.name) + "</b>" + (l.figure ? "<span>" + gm.esc(l.figure) + "</span>" : "")));
      });
      gm.spreadLabels();
      // Sizes change once the CJK font is in and the frame has its final height: spread
      // again then, or two names placed with the fallback font's widths overlap.
      if (document.fonts && document.fonts.ready) { document.fonts.ready.then(gm.spreadLabels); }
      setTimeout(gm.spreadLabels, 500);
      document.documentElement.setAttribute("data-unit-labels", String(labels.length));
    };
    // Labels come largest figure first; one that would cover an earlier one moves up,
    // down or aside by a line or so or half its width, so that no name is written over
    // another; one with no free place nearby is hidden.
    gm.spreadLabels = function () {
      var kept = [];
      gm.unitLabels.eachLayer(function (m) {
        var el = m.getElement() && m.getElement().firstChild;
        if (!el) { return; }
        el.style.margin = "0px";
        el.style.visibility = "";
        var box = el.getBoundingClientRect(), line = box.height / 2, side = box.width / 2 + 6;
        var shifts = [[0, 0], [0, -line], [0, line], [side, 0], [-side, 0], [0, -2 * line],
                      [0, 2 * line], [side, -line], [-side, -line], [side, line],
                      [-side, line], [side, -2 * line], [-side, -2 * line], [side, 2 * line],
                      [-side, 2 * line], [0, -3 * line], [0, 3 * line], [1.6 * side, 0],
                      [-1.6 * side, 0]];
        for (var k = 0; k < shifts.length; k++) {
          el.style.margin = shifts[k][1] + "px 0 0 " + shifts[k][0] + "px";
          var r = el.getBoundingClientRect();
          var clash = kept.some(function (o) {
            return r.left < o.right && r.right > o.left && r.top < o.bottom && r.bottom > o.top;
          });
          if (!clash) { kept.push(r); return; }
        }
        // Nowhere free: the smaller figure's label is left out rather than written over
        // a larger one (its tooltip still names it).
        el.style.margin = "0px";
        el.style.visibility = "hidden";
      });
    };
    map.on("zoomend resize", function () { if (gm.unitLabels) { gm.spreadLabels(); } });
    // A Chinese character is about 1 em wide, a Latin letter or digit about 0.6 em.
    gm.textWidth = function (text, px) {
      var width = 0;
      for (var k = 0; k < text.length; k++) { width += text.charCodeAt(k) > 255 ? px : 0.6 * px; }
      return width;
    };
    // A grid's name is written inside it once it fits: from zoom 13, for the grids in view
    // whose box on screen is wider than the name and taller than a line (at most 300).
    gm.gridLabelZoom = 13;
    gm.drawGridLabels = function () {
      gm.gridLabels.clearLayers();
      var shown = 0;
      if (gm.ready && map.getZoom() >= gm.gridLabelZoom) {
        var view = map.getBounds().pad(-0.02);
        var probe = document.createElement("div");
        probe.className = "gm-grid-label";
        document.body.appendChild(probe);
        var px = parseFloat(getComputedStyle(probe).fontSize) || 12;
        document.body.removeChild(probe);
        for (var i = 0; i < gm.layers.length && shown < 300; i++) {
          var name = gm.names[i];
          if (!name) { continue; }
          var b = gm.layers[i].getBounds();
          if (!view.contains(b.getCenter())) { continue; }
          var nw = map.latLngToContainerPoint(b.getNorthWest());
          var se = map.latLngToContainerPoint(b.getSouthEast());
          if (se.y - nw.y < px * 1.8) { continue; }
          // The whole name, or only its "第3网格" when the community's name does not fit
          // (the tooltip still gives it all).
          var text = [name, name.replace(/^.+?(第[0-9一二三四五六七八九十百]+网格)$/, "$1")]
            .filter(function (n) { return gm.textWidth(n, px) + 8 <= se.x - nw.x; })[0];
          if (!text) { continue; }
          var c = gm.layers[i].getCenter(), at = map.latLngToContainerPoint(c);
          var half = gm.textWidth(text, px) / 2, size = map.getSize();
          if (at.x - half < 2 || at.x + half > size.x - 2) { continue; }  // not cut at the edge
          gm.gridLabels.addLayer(gm.label(c.lat, c.lng, "gm-grid-label", gm.esc(text)));
          shown++;
        }
      }
      document.documentElement.setAttribute("data-grid-labels", String(shown));
    };
    map.on("moveend", function () { gm.drawGridLabels(); });
  };
})();
