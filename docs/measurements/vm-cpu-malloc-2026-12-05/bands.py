# Bands of a stability table: per backend and band of the first run's figure, the figures, how many moved beyond 10 %, and the median change.
# Usage: python bands.py FILE (the full output of python -m tools.stability A B --machine vm --bench 'time_latency$', asv's table included).
import re,sys,statistics
u={'ns':1e-9,'μs':1e-6,'us':1e-6,'ms':1e-3,'s':1}
def val(s):
    m=re.match(r'([\d.]+)(?:±[\d.]+)?(ns|μs|us|ms|s)$',s.strip())
    return float(m.group(1))*u[m.group(2)] if m else None
rows={}
for line in open(sys.argv[1]):
    if not line.startswith('|'): continue
    c=[x.strip() for x in line.strip().strip('|').split('|')]
    if len(c)<5: continue
    a,b=val(c[1]),val(c[2])
    if a is None or b is None: continue
    m=re.search(r"'(mlx_cpu|cpu|mlx_gpu|cuda)'",c[4])
    rows[c[4]]=(m.group(1),a,b)
for be in sorted({r[0] for r in rows.values()}):
    for lo,hi,name in ((0,2e-4,'<0.2ms'),(2e-4,1e-3,'0.2-1ms'),(1e-3,1e9,'>=1ms')):
        ch=[max(b/a,a/b)-1 for k,(x,a,b) in rows.items() if x==be and lo<=a<hi]
        if ch: print(f"{be:8} {name:8} n={len(ch):3} beyond10%={sum(c>0.1 for c in ch):3} median={100*statistics.median(ch):.1f}%")
