"""Analytics service: quixstreams windows over orders and payments → AnalyticsWindow records.

`app` holds the quixstreams Application and its HTTP side, `aggregate` the pure arithmetic
(facts, window results, running totals).
"""
