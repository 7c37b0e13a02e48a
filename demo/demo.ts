// The demo page: one widget; the room it uses is put in the address bar so
// the URL can be shared (the widget itself never rewrites the host page's URL).
import '../src/call-widget.ts';

const widget = document.querySelector('call-widget');
if (widget) {
  const params = new URLSearchParams(location.search);
  const name = params.get('name');
  if (name) widget.name = name;
  if (params.get('room') !== widget.room) {
    const url = new URL(location.href);
    url.searchParams.set('room', widget.room);
    history.replaceState(null, '', url);
  }
}
