# bench/plot.gp: the benchmark's picture, from bench/run's summary.tsv.
#   gnuplot -e "datafile='summary.tsv'; outfile='bench.png'; subtitle='...'" bench/plot.gp
# Columns (tab-separated, header row): 5 cpu_us_per_delivery, 6 rss_kib_per_client,
# 7 p50_ms, 8 p99_ms, 9 max_ms, 22 label (the system's name in the table: with bursts,
# "floor (write/event)" and "floor (write/burst)").
if (!exists("datafile")) datafile = 'summary.tsv'
if (!exists("outfile")) outfile = 'bench.png'
if (!exists("subtitle")) subtitle = ''

set terminal pngcairo size 1500,520 font ",10"
set output outfile
set datafile separator "\t"
set datafile missing "null"
set datafile columnheaders
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set grid ytics
set xtics nomirror

stats datafile using 5 nooutput
cpu_max = STATS_max
stats datafile using 6 nooutput
rss_max = STATS_max
stats datafile using 9 nooutput
lat_max = STATS_max
set xrange [-0.6:STATS_records - 0.4]

set multiplot layout 1,3 title "ratecast: sse-server vs nginx+Nchan vs raw floor".(subtitle eq '' ? '' : " (".subtitle.")")

set title "delivery latency (ms, log scale)"
set logscale y
set yrange [*:lat_max * 3]
set key top right horizontal
plot datafile using 7:xtic(22) title "p50", '' using 8 title "p99", '' using 9 title "max"
unset logscale y

unset key
set title "server CPU per delivery (µs)"
set yrange [0:cpu_max * 1.15]
plot datafile using 5:xtic(22) lc rgb "#4472c4", \
     '' using 0:5:(sprintf("%.3f", $5)) with labels offset 0,0.8

set title "server RSS per client (KiB, above idle)"
set yrange [0:rss_max * 1.15]
plot datafile using 6:xtic(22) lc rgb "#70ad47", \
     '' using 0:6:(sprintf("%.2f", $6)) with labels offset 0,0.8

unset multiplot
