/**
 * Spanish message catalog for `<call-widget>`: neutral Spanish for users in
 * Spain and Latin America, in the style of Google Meet's Spanish UI (informal
 * "tú"). Any key missing here falls back to English (`en` in messages.ts).
 */
import type { Messages } from './messages.ts';

/** Spanish (es). */
const messages: Messages = {
  join: 'Unirse a la llamada',
  rejoin: 'Volver a unirse',
  retry: 'Reintentar',
  hangup: 'Colgar',
  mute: 'Silenciar micrófono',
  cameraOff: 'Desactivar cámara',
  copyInvite: 'Copiar enlace de invitación',
  inviteCopied: 'Enlace de invitación copiado',
  inviteManual: 'Copia este enlace para invitar a alguien',
  controls: 'Controles de la llamada',
  you: 'Tú',
  remoteVideo: 'Video de {name}',
  localVideo: 'Tu cámara',
  guest: 'Invitado',
  cameraIsOff: 'Cámara desactivada',
  micIsOff: 'Micrófono desactivado',
  peerHere: '{name} está aquí',
  peerJoined: '{name} se unió',
  peerLeft: '{name} salió',
  peerHungUp: '{name} colgó',
  roomReconnecting: 'reconectando con la sala',
  connectionLost: 'Conexión perdida. Reconectando…',
  lockRoom: 'Bloquear sala',
  roomLocked: 'Sala bloqueada: para entrar hay que pedir permiso',
  roomUnlocked: 'Sala desbloqueada',
  knocks: 'Esperando para unirse',
  knocking: '{name} quiere unirse',
  admit: 'Admitir',
  reject: 'Rechazar',
  admitName: 'Admitir a {name}',
  rejectName: 'Rechazar a {name}',
  'state-idle': 'Todo listo para unirte',
  'state-joining': 'Uniéndote…',
  'state-knocking': 'Esperando a que te admitan',
  'state-waiting': 'Esperando a que alguien se una',
  'state-connecting': 'Conectando…',
  'state-connected': 'Conectado',
  'state-reconnecting': 'Reconectando…',
  'state-ended': 'Llamada finalizada',
  'state-failed': 'Error en la llamada',
  'error-permission-denied':
    'Se denegó el acceso a la cámara y al micrófono. Permítelo desde el ícono de la cámara en la barra de direcciones y vuelve a intentarlo.',
  'error-device-not-found': 'No se encontró ninguna cámara ni micrófono. Conecta uno y vuelve a intentarlo.',
  'error-device-in-use': 'Otra aplicación está usando tu cámara o micrófono. Ciérrala y vuelve a intentarlo.',
  'error-constraints-unsatisfied': 'Tu cámara no admite la configuración solicitada.',
  'error-insecure-context': 'Las llamadas requieren una página segura (HTTPS).',
  'error-permission-policy-blocked':
    'Esta página no permite usar la cámara ni el micrófono (atributo "allow" del iframe).',
  'error-unsupported-browser': 'Este navegador no puede hacer videollamadas.',
  'error-media-failed': 'No se pudo iniciar la cámara o el micrófono.',
  'error-room-full': 'Esta llamada está llena.',
  'error-room-unavailable': 'Esta llamada no está disponible.',
  'error-forbidden-origin': 'Esta página no tiene permiso para usar el servidor de llamadas.',
  'error-rate-limited': 'Demasiadas solicitudes; el servidor de llamadas te desconectó.',
  'error-room-unreachable': 'No se puede acceder al servidor de llamadas. Revisa tu conexión.',
  'error-connection-failed': 'Falló la conexión con la otra persona.',
};

export default messages;
