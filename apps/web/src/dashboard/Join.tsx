/** The join panel: the client page's URL and a QR code of it, so a phone joins the run in one scan. */
import { useEffect, useState } from 'react';
import QRCode from 'qrcode';
export { joinUrl } from './joinUrl.ts';

export function Join({ url }: { url: string }) {
  const [svg, setSvg] = useState('');
  useEffect(() => {
    void QRCode.toString(url, { type: 'svg', margin: 1, width: 160 }).then(setSvg);
  }, [url]);
  return (
    <div className="card" data-testid="join">
      <h2>Join</h2>
      <p>
        Open{' '}
        <a href={url} data-testid="join-url">
          {url}
        </a>{' '}
        on any device (HTTPS, or localhost) to become a client.
      </p>
      {/* biome-ignore lint/security/noDangerouslySetInnerHtml: the SVG is the qrcode library's output for a URL, not HTML from anyone */}
      <div className="qr" dangerouslySetInnerHTML={{ __html: svg }} data-testid="join-qr" />
    </div>
  );
}
