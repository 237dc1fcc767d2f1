"""Copy the front-end libraries installed by npm into static/vendor (served by Flask, never a CDN)."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

# package -> files or directories to copy (relative to the package)
ASSETS = {
    "leaflet": ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"],
    "leaflet.markercluster": [
        "dist/leaflet.markercluster.js",
        "dist/MarkerCluster.css",
        "dist/MarkerCluster.Default.css",
        "MIT-LICENCE.txt",
    ],
    "axe-core": ["axe.min.js", "LICENSE"],
    "chart.js": ["dist/chart.umd.min.js", "LICENSE.md"],
    "leaflet.heat": ["dist/leaflet-heat.js", "LICENSE"],
    # /api/v1/docs, the interactive API documentation
    "swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"],
    # vector tiles rendered in the browser (/tiles/…, tests/browser/test_tiles.py); the CSP
    # build runs its worker from a file of ours, not a blob: URL the page's CSP would refuse
    "maplibre-gl": ["dist/maplibre-gl.js", "dist/maplibre-gl-csp.js", "dist/maplibre-gl-csp-worker.js",
                    "dist/maplibre-gl.css", "LICENSE.txt"],
}


def main() -> None:
    for package, paths in ASSETS.items():
        target = VENDOR / package
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for rel in paths:
            src = NODE / package / rel
            dst = target / Path(rel).name
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
    print(f"vendor: {len(ASSETS)} packages copied to {VENDOR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
