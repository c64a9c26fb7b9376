import { Component, OnDestroy, OnInit, signal } from '@angular/core';

// sse-server's address: ?server=http://host:port on the page URL, so the
// built app can be pointed anywhere without rebuilding.
const DEFAULT_SERVER = 'http://127.0.0.1:8181';

function serverFromUrl(): string {
  const s = new URLSearchParams(window.location.search).get('server');
  return (s || DEFAULT_SERVER).replace(/\/+$/, '');
}

interface Tick {
  time: string;
  asset_id_base: string;
  asset_id_quote: string;
  rate: number;
}

@Component({
  selector: 'app-root',
  template: `
    <h1>ratecast + Angular</h1>
    <p>Server: <code>{{ server }}</code> ({{ state() }})</p>
    <p>Messages received: <span id="count">{{ count() }}</span></p>
    @if (rate() !== null) {
      <p id="price">1 BTC Price Now: USD {{ rate()!.toFixed(2) }}</p>
    } @else {
      <p id="price">Waiting for BTC/USD...</p>
    }
  `,
})
export class AppComponent implements OnInit, OnDestroy {
  readonly server = serverFromUrl();
  readonly count = signal(0);
  readonly rate = signal<number | null>(null);
  readonly state = signal('connecting');
  private es?: EventSource;

  ngOnInit(): void {
    this.es = new EventSource(`${this.server}/api/v1/sso/stream`);
    this.es.onopen = () => this.state.set('connected');
    this.es.onerror = () => this.state.set('reconnecting');
    this.es.onmessage = (ev: MessageEvent<string>) => {
      this.count.update((n) => n + 1);
      const tick = JSON.parse(ev.data) as Tick;
      if (tick.asset_id_base === 'BTC' && tick.asset_id_quote === 'USD') {
        this.rate.set(tick.rate);
      }
    };
  }

  ngOnDestroy(): void {
    this.es?.close();
  }
}
