# plot.gnuplot -- plots of the benchmark results (bench/run.sh).
#
#   gnuplot -e "dir='bench/results'" bench/plot.gnuplot
#
# Reads dir/plot-B<bytes>.dat (written by report.tcl: R, then per server
# saturated deliveries/s, light-load p99 ms, saturated p99 ms) and writes
#   dir/deliveries.png   saturated deliveries/s against R, one panel per B
#   dir/latency.png      light-load p99 latency against R, one panel per B
# Both axes are logarithmic.  A server that aborted or failed in a cell has
# no point there.

if (!exists("dir")) dir = "bench/results"
sizes = system("cat '".dir."/plot-sizes.txt'")
n = words(sizes)

set datafile missing "NaN"
set logscale x 10
set logscale y 10
set grid
set key top left font ",9"
set xlabel "receivers R"
set style data linespoints
names = "C-ref multiplexer-0.3 tcllib-0.2 Tcl-relay"
lt(i) = i

set terminal pngcairo size 1500,480 font ",10"

set output dir."/deliveries.png"
set multiplot layout 1,n title "Saturated fan-out: deliveries/s (1 sender, R receivers)"
do for [k=1:n] {
    B = word(sizes, k)
    set title sprintf("B = %s bytes", B)
    set ylabel "deliveries/s"
    plot for [i=1:4] sprintf("%s/plot-B%s.dat", dir, B) using 1:(column(1+i)) \
	title word(names, i) lw 2 pt 7
}
unset multiplot

set output dir."/latency.png"
set multiplot layout 1,n title "Light load (100 messages/s): p99 delivery latency"
do for [k=1:n] {
    B = word(sizes, k)
    set title sprintf("B = %s bytes", B)
    set ylabel "p99 latency (ms)"
    plot for [i=1:4] sprintf("%s/plot-B%s.dat", dir, B) using 1:(column(5+i)) \
	title word(names, i) lw 2 pt 7
}
unset multiplot
