/** The frame of every page: header with navigation and the lookup box, then the page. */
import { useState } from 'preact/hooks';
import { href, navigate, useRoute } from '../route.js';
import { AuditsPage } from './AuditsPage.js';
import { LookupPage } from './LookupPage.js';
import { PoolsPage } from './PoolsPage.js';
import { SubnetPage } from './SubnetPage.js';
import { SubnetsPage } from './SubnetsPage.js';

const SECTIONS = [
  { parts: [], label: 'Subnets', match: ['', 'subnets'] },
  { parts: ['pools'], label: 'Subnet pools', match: ['pools'] },
  { parts: ['audits'], label: 'Audits', match: ['audits'] },
] as const;

export function App() {
  const route = useRoute();
  const [first = '', second] = route.parts;
  return (
    <>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">ipam</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((section) => (
              <li key={section.label}>
                <a
                  href={href([...section.parts])}
                  aria-current={
                    (section.match as readonly string[]).includes(first) ? 'page' : undefined
                  }
                >
                  {section.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <LookupBox initial={first === 'lookup' ? (route.query.get('q') ?? '') : ''} />
      </header>
      <main id="main" tabIndex={-1}>
        {first === 'subnets' && second !== undefined ? (
          <SubnetPage key={second} id={second} route={route} />
        ) : first === 'pools' ? (
          <PoolsPage poolId={second} />
        ) : first === 'audits' ? (
          <AuditsPage />
        ) : first === 'lookup' ? (
          <LookupPage query={route.query.get('q') ?? ''} />
        ) : (
          <SubnetsPage />
        )}
      </main>
    </>
  );
}

function skipToMain() {
  // Hash routing owns the fragment: move focus without changing it.
  document.getElementById('main')?.focus();
}

function LookupBox({ initial }: { initial: string }) {
  const [text, setText] = useState(initial);
  return (
    <search class="lookup-box">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim() !== '') navigate(href(['lookup'], { q: text.trim() }));
        }}
      >
        <label>
          <span class="visually-hidden">Look up an address, a MAC or an owner</span>
          <input
            type="search"
            name="q"
            value={text}
            placeholder="Address, MAC or owner"
            onInput={(event) => setText(event.currentTarget.value)}
          />
        </label>
        <button type="submit">Look up</button>
      </form>
    </search>
  );
}
