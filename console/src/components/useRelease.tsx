/** Release with a confirmation: `ask(ip)` opens the dialog, `dialog` is what to render. */
import { useState } from 'preact/hooks';
import { type ApiError, path, request } from '../api.js';
import { ConfirmDialog } from './ConfirmDialog.js';

export function useRelease(subnetId: string, onReleased: (ip: string) => void) {
  const [asking, setAsking] = useState<string | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [released, setReleased] = useState<string | undefined>();
  const release = async (ip: string) => {
    setAsking(undefined);
    setError(undefined);
    try {
      await request('DELETE', path('subnets', subnetId, 'allocations', ip));
      setReleased(ip);
      onReleased(ip);
    } catch (caught) {
      setError(caught as ApiError);
    }
  };
  const dialog =
    asking === undefined ? null : (
      <ConfirmDialog
        question={`Release ${asking}? Whoever holds it loses it.`}
        confirmLabel={`Release ${asking}`}
        onConfirm={() => void release(asking)}
        onCancel={() => setAsking(undefined)}
      />
    );
  return {
    ask: (ip: string) => {
      setReleased(undefined);
      setAsking(ip);
    },
    dialog,
    error,
    released,
  };
}
