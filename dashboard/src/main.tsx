import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { connect } from "./api.js";
import { forgetToken, saveToken, savedToken } from "./auth.js";
import { SessionContext, type Session } from "./context.js";
import { Link, usePath } from "./router.js";
import "./styles.css";
import { CollectorView } from "./views/CollectorView.js";
import { ImportView } from "./views/ImportView.js";
import { JobView } from "./views/JobView.js";
import { Overview } from "./views/Overview.js";
import { QueueView } from "./views/QueueView.js";

function SignIn(props: { reason: string | null; signIn(token: string, remember: boolean): void }) {
  const [token, setToken] = useState("");
  const [remember, setRemember] = useState(false);
  return (
    <main class="signin">
      <h1>Milepost</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim()) props.signIn(token.trim(), remember);
        }}
      >
        <label>
          Token
          <input name="token" type="password" autoComplete="off" value={token} onInput={(event) => setToken(event.currentTarget.value)} placeholder="mp_…" autoFocus />
        </label>
        <label class="check">
          <input name="remember" type="checkbox" checked={remember} onChange={(event) => setRemember(event.currentTarget.checked)} /> Remember on this browser
        </label>
        <button type="submit">Sign in</button>
        {props.reason ? <p class="error">{props.reason}</p> : null}
        <p class="quiet">
          The first start saved an ADMIN token in <code>.data/admin-token</code>; <code>npx milepost token create --name me --role VIEWER</code> makes more.
        </p>
      </form>
    </main>
  );
}

/** Which view a path shows: /, /imports/42, /jobs/7, /queues/http-check, /collectors/demo-stats. */
function View(props: { path: string }) {
  const [, section, id] = props.path.split("/").map(decodeURIComponent);
  if (section === "imports" && id) return <ImportView key={id} id={id} />;
  if (section === "jobs" && id) return <JobView key={id} id={id} />;
  if (section === "queues" && id) return <QueueView key={id} name={id} />;
  if (section === "collectors" && id) return <CollectorView key={id} name={id} />;
  if (!section) return <Overview />;
  return <p class="error">Nothing here: {props.path}. <Link to="/">Back to the overview</Link></p>;
}

function App() {
  const path = usePath();
  const [token, setToken] = useState(savedToken());
  const [refused, setRefused] = useState<string | null>(null);
  const [viewer, setViewer] = useState<{ name: string; role: string } | null>(null);
  const [online, setOnline] = useState(true);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  const signOut = (reason: string | null) => {
    forgetToken();
    setToken(null);
    setViewer(null);
    setRefused(reason);
  };
  const api = useMemo(() => (token ? connect(token, (reason) => signOut(`Signed out: ${reason}`), setOnline) : null), [token]);
  useEffect(() => {
    if (!api) return;
    api.request<{ viewer: { name: string; role: string } | null }>(`query { viewer { name role } }`).then(
      (answer) => setViewer(answer.viewer ?? { name: "anyone (auth is off)", role: "ADMIN" }),
      (failure: Error) => signOut(failure.message),
    );
    return () => api.dispose();
  }, [api]);
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), notice.error ? 10_000 : 3000);
    return () => clearTimeout(timer);
  }, [notice]);
  if (!token || !api) return <SignIn reason={refused} signIn={(value, remember) => (saveToken(value, remember), setRefused(null), setToken(value))} />;
  if (!viewer) return <p class="loading">Signing in…</p>;
  const session: Session = { api, canAct: viewer.role !== "VIEWER", viewer: viewer.name, notify: (text, error = false) => setNotice({ text, error }) };
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <Link to="/" class="brand">Milepost</Link>
        <nav>
          <Link to="/">Overview</Link>
          <a href="/graphql">GraphiQL</a>
        </nav>
        <span class={online ? "online" : "offline"}>{online ? "live" : "reconnecting…"}</span>
        <span class="viewer">{viewer.name} ({viewer.role})</span>
        <button onClick={() => signOut(null)}>Sign out</button>
      </header>
      {notice ? <div class={notice.error ? "notice notice-error" : "notice"} role="status">{notice.text}</div> : null}
      <main>
        <View path={path} />
      </main>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
