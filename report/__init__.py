"""The run report: :mod:`report.figures` draws the frames of :mod:`storage.queries`;
:mod:`report.page` lays them out in one HTML page (``acdc report``)."""
